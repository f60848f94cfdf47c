#!/usr/bin/env python3
"""Checks a Jenkins server with python-jenkins, a client written by others.

Usage: jenkins_check.py <url> <user> <api-token>

Expects the jobs that tests/jenkins_client.rs adds to the simulator:
  team/deploy   Pipeline, parameters BRANCH (default "main") and RUN_ID, runs ~1 s
  team/hold     Pipeline without parameters, runs until stopped
  team/blocked  Pipeline whose queue items stay blocked
  legacy        FreeStyle without parameters, runs until stopped

Exits 0 when every answer is what a real Jenkins gives, 1 with a message otherwise.
"""

import sys
import time

import jenkins
import requests

TIMEOUT = 30.0


class Mismatch(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Mismatch(message)


def wait_for(what, probe):
    """Polls `probe` until it returns something truthy."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise Mismatch("timed out waiting for " + what)


def executable_of(server, queue_id):
    def probe():
        item = server.get_queue_item(queue_id)
        executable = item.get("executable")
        return executable and executable.get("number")

    return wait_for("queue item %d to start a build" % queue_id, probe)


def finished(server, job, number):
    def probe():
        info = server.get_build_info(job, number)
        return None if info["building"] else info

    return wait_for("build %s #%d to finish" % (job, number), probe)


def check_identity(server, user):
    # get_version sends no credentials until another call has resolved them, and a
    # secured Jenkins refuses anonymous readers (403): ask who we are first.
    whoami = server.get_whoami()
    expect(whoami.get("id") == user, "get_whoami gave %r" % whoami)
    version = server.get_version()
    expect(version and version[0].isdigit(), "get_version gave %r" % version)
    print("version %s, signed in as %s" % (version, whoami["id"]))


def check_job_info(server):
    info = server.get_job_info("team/deploy")
    expect(info.get("fullName") == "team/deploy", "fullName: %r" % info.get("fullName"))
    expect(info.get("name") == "deploy", "name: %r" % info.get("name"))
    definitions = [
        d["name"]
        for p in info.get("property", [])
        if p.get("_class") == "hudson.model.ParametersDefinitionProperty"
        for d in p.get("parameterDefinitions", [])
    ]
    expect(definitions == ["BRANCH", "RUN_ID"], "parameter definitions: %r" % definitions)
    expect(server.job_exists("team/deploy"), "job_exists(team/deploy) is false")
    expect(not server.job_exists("team/nope"), "job_exists(team/nope) is true")


def check_parameterized_build(server):
    queue_id = server.build_job("team/deploy", {"BRANCH": "feature", "RUN_ID": "check-1"})
    expect(isinstance(queue_id, int) and queue_id > 0, "build_job gave %r" % queue_id)
    number = executable_of(server, queue_id)
    item = server.get_queue_item(queue_id)
    expect(item["_class"] == "hudson.model.Queue$LeftItem", "left item class: %r" % item["_class"])
    expect(item["cancelled"] is False, "left item cancelled: %r" % item["cancelled"])
    info = finished(server, "team/deploy", number)
    expect(info["result"] == "SUCCESS", "result: %r" % info["result"])
    expect(info["queueId"] == queue_id, "queueId %r, expected %r" % (info["queueId"], queue_id))
    parameters = {
        p["name"]: p.get("value")
        for a in info["actions"]
        if a.get("_class") == "hudson.model.ParametersAction"
        for p in a["parameters"]
    }
    expect(parameters == {"BRANCH": "feature", "RUN_ID": "check-1"}, "parameters: %r" % parameters)
    console = server.get_build_console_output("team/deploy", number)
    expect("Deploying feature" in console, "console lacks the job's log: %r" % console)
    expect(console.rstrip().endswith("Finished: SUCCESS"), "console ends: %r" % console[-80:])
    print("team/deploy #%d from queue item %d: SUCCESS" % (number, queue_id))


def check_build_needs_parameters(server):
    try:
        server.build_job("team/deploy")
    except requests.exceptions.HTTPError as e:
        status = e.response.status_code
        expect(status == 400, "build on a parameterized job answered %d" % status)
    else:
        raise Mismatch("build without parameters on a parameterized job was accepted")


def check_stop(server, job):
    queue_id = server.build_job(job)
    number = executable_of(server, queue_id)
    running = server.get_build_info(job, number)
    expect(running["building"] is True, "%s #%d not building" % (job, number))
    expect(running["result"] is None, "%s #%d result while running: %r" % (job, number, running["result"]))
    server.stop_build(job, number)
    info = finished(server, job, number)
    expect(info["result"] == "ABORTED", "%s #%d after stop: %r" % (job, number, info["result"]))
    print("%s #%d stopped: ABORTED" % (job, number))


def check_running_builds(server):
    queue_id = server.build_job("legacy")
    number = executable_of(server, queue_id)
    running = server.get_running_builds()
    mine = [b for b in running if b["name"] == "legacy" and b["number"] == number]
    expect(mine, "get_running_builds lacks legacy #%d: %r" % (number, running))
    server.stop_build("legacy", number)
    info = finished(server, "legacy", number)
    expect(info["result"] == "ABORTED", "legacy #%d after stop: %r" % (number, info["result"]))
    expect(info["_class"] == "hudson.model.FreeStyleBuild", "class: %r" % info["_class"])
    print("legacy #%d was among the running builds, then stopped" % number)


def check_cancel_queue(server):
    queue_id = server.build_job("team/blocked")
    item = wait_for("the blocked item", lambda: server.get_queue_item(queue_id).get("blocked") and server.get_queue_item(queue_id))
    expect(item["why"], "a blocked item says why: %r" % item)
    queued = [i["id"] for i in server.get_queue_info()]
    expect(queue_id in queued, "get_queue_info lacks %d: %r" % (queue_id, queued))
    server.cancel_queue(queue_id)
    item = server.get_queue_item(queue_id)
    expect(item["_class"] == "hudson.model.Queue$LeftItem", "after cancel: %r" % item["_class"])
    expect(item["cancelled"] is True and item["executable"] is None, "after cancel: %r" % item)
    # A second cancel of a left item is a 500, which python-jenkins reports as such.
    try:
        server.cancel_queue(queue_id)
    except jenkins.JenkinsException as e:
        expect("500" in str(e), "second cancel: %s" % e)
    else:
        raise Mismatch("cancelling a left item again was accepted")
    print("queue item %d cancelled" % queue_id)


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    url, user, token = sys.argv[1:]
    server = jenkins.Jenkins(url, username=user, password=token, timeout=10)
    try:
        check_identity(server, user)
        check_job_info(server)
        check_parameterized_build(server)
        check_build_needs_parameters(server)
        check_stop(server, "team/hold")
        check_running_builds(server)
        check_cancel_queue(server)
    except Mismatch as e:
        print("MISMATCH: %s" % e, file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - any client error is a failed check
        print("ERROR: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        return 1
    print("python-jenkins %s agrees with the server" % getattr(jenkins, "__version__", "1.8.3"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
