#!/usr/bin/env python3
"""Checks a TeamCity server (Baton's simulator, normally) with a real client library.

Usage: teamcity_check.py URL TOKEN   (or TEAMCITY_URL and TEAMCITY_TOKEN in the environment)

It drives dohq-teamcity (pinned in requirements.txt) through its own API objects and
exits non-zero, naming the first mismatch, when the server answers differently from
what TeamCity does. The server must have two build configurations, set up by
tests/teamcity_client.rs:

* Client_Build: runs briefly and finishes FAILURE with tests 3 passed, 1 failed,
  1 ignored; reports the resulting parameter env.IMAGE=registry/app:7; publishes
  app.jar and reports/index.html.
* Client_Queued: its builds stay in the queue.

dohq-teamcity 1.0.10 is generated from an old swagger description and has two defects
that break it against a real TeamCity as well; the check works around them and makes
sure the server answers them the way a real one does:

* Its default headers, which override each call's own, always say
  `Accept: application/json`, while single build fields (`/builds/{locator}/status`)
  are produced only as text/plain: Jersey answers 406. Status and status text are read
  from the build entity instead.
* Path parameters are quoted with no safe characters, so an artifact path `/reports`
  becomes `%2Freports`, which Tomcat rejects with 400 before TeamCity sees it. The
  library's own `safe_chars_for_path_param` setting lets `/` through.
"""

import os
import sys
import time

from dohq_teamcity import (
    Build,
    BuildCancelRequest,
    BuildType,
    Comment,
    ModelProperty,
    Properties,
    TeamCity,
)
from dohq_teamcity.rest import ApiException

BUILD_TYPE = "Client_Build"
QUEUED_BUILD_TYPE = "Client_Queued"
POSTED = {"env.TARGET": "staging", "dryRun": "false"}
FINISH_WITHIN_SECONDS = 30


class Mismatch(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Mismatch(message)


def expect_equal(actual, expected, what):
    expect(actual == expected, "{}: expected {!r}, got {!r}".format(what, expected, actual))


def expect_refusal(call, status, what):
    """`call` must fail with HTTP `status`, as it does against a real TeamCity."""
    try:
        call()
    except ApiException as error:
        expect_equal(error.status, status, what)
        return
    raise Mismatch("{}: expected HTTP {}, but the call succeeded".format(what, status))


def client(url, token):
    tc = TeamCity(url, auth_settings=["Token"])
    tc.configuration.api_key["Authorization"] = token
    tc.configuration.api_key_prefix["Authorization"] = "Bearer"
    tc.configuration.active_api_key = "Authorization"
    return tc


def check_server(tc, url):
    info = tc.server.get_server_info()
    expect(info.version, "server info has no version")
    expect(isinstance(info.version_major, int), "versionMajor is not a number")
    expect_equal(info.web_url.rstrip("/"), url.rstrip("/"), "server webUrl")
    print("server: TeamCity {}".format(info.version))


def queue_build(tc):
    request = Build(
        build_type=BuildType(id=BUILD_TYPE),
        branch_name="main",
        comment=Comment(text="checked by dohq-teamcity"),
        properties=Properties(
            _property=[ModelProperty(name=n, value=v) for n, v in sorted(POSTED.items())]
        ),
    )
    queued = tc.build_queues.queue_new_build(body=request)
    expect(isinstance(queued.id, int), "the queued build has no id")
    expect_equal(queued.state, "queued", "state of the trigger's answer")
    expect_equal(queued.build_type_id, BUILD_TYPE, "buildTypeId of the trigger's answer")
    expect_equal(queued.href, "/app/rest/buildQueue/id:{}".format(queued.id), "queued href")
    expect_equal(queued.comment.text, "checked by dohq-teamcity", "comment")
    posted = {p.name: p.value for p in queued.properties._property or []}
    for name, value in POSTED.items():
        expect_equal(posted.get(name), value, "posted property {}".format(name))
    print("queued build {}".format(queued.id))
    return queued.id


def read_from_queue(tc, build_id):
    # The queue resource answers for the build in any state (reference 5.1).
    from_queue = tc.build_queues.get_build("id:{}".format(build_id))
    expect_equal(from_queue.id, build_id, "id read from the queue")
    expect(from_queue.state in ("queued", "running", "finished"), "state read from the queue")
    if from_queue.state == "queued":
        expected_href = "/app/rest/buildQueue/id:{}".format(build_id)
    else:
        expected_href = "/app/rest/builds/id:{}".format(build_id)
    expect_equal(from_queue.href, expected_href, "href read from the queue")


def wait_until_finished(tc, build_id):
    order = ["queued", "running", "finished"]
    seen = "queued"
    deadline = time.monotonic() + FINISH_WITHIN_SECONDS
    while True:
        build = tc.builds.get("id:{}".format(build_id))
        expect_equal(build.id, build_id, "id of the followed build")
        expect(build.state in order, "unknown state {!r}".format(build.state))
        expect(
            order.index(build.state) >= order.index(seen),
            "state went back from {} to {}".format(seen, build.state),
        )
        seen = build.state
        if build.state == "running":
            expect(build.running_info is not None, "a running build has no running-info")
        if build.state == "finished":
            return build
        expect(time.monotonic() < deadline, "build {} never finished".format(build_id))
        time.sleep(0.1)


def check_result(tc, build):
    locator = "id:{}".format(build.id)
    expect_equal(build.status, "FAILURE", "status")
    expect_equal(
        build.status_text, "Tests failed: 1 (1 new), passed: 3, ignored: 1", "statusText"
    )
    expect(not build.failed_to_start, "failedToStart on a build that ran")
    expect(build.canceled_info is None, "canceledInfo on a build nobody canceled")
    expect_equal(build.href, "/app/rest/builds/id:{}".format(build.id), "finished href")
    expect(build.number, "a finished build has no number")
    expect_equal(build.triggered.user.username, "ci-bot", "triggering user")

    expect_refusal(
        lambda: tc.builds.get_build_field_by_build_only(locator, "status"),
        406,
        "a text/plain field asked for as JSON",
    )

    summary = build.test_occurrences
    expect(summary is not None, "the finished build has no testOccurrences")
    expect_equal(
        (summary.count, summary.passed, summary.failed, summary.ignored),
        (5, 3, 1, 1),
        "test counts (count, passed, failed, ignored)",
    )
    occurrences = tc.test_occurrence.get_test_occurrences(
        locator="build:(id:{})".format(build.id)
    )
    expect_equal(occurrences.count, 5, "testOccurrences count")
    tests = occurrences.test_occurrence or []
    expect_equal(len(tests), 5, "listed test occurrences")
    statuses = sorted(
        "IGNORED" if t.ignored else t.status for t in tests
    )
    expect_equal(statuses, ["FAILURE", "IGNORED", "SUCCESS", "SUCCESS", "SUCCESS"], "test statuses")
    for test in tests:
        expect(test.name, "a test occurrence without a name")
        expect(
            test.id.endswith(",build:(id:{})".format(build.id)),
            "test occurrence id {!r}".format(test.id),
        )
    by_build = tc.builds.get_tests(locator)
    expect_equal(by_build.count, 5, "the build's own testOccurrences")

    resulting = tc.builds.serve_build_actual_parameters(locator)
    values = {p.name: p.value for p in resulting._property or []}
    expect_equal(values.get("env.IMAGE"), "registry/app:7", "resulting env.IMAGE")
    for name, value in POSTED.items():
        expect_equal(values.get(name), value, "resulting {}".format(name))

    check_artifacts(tc, build)
    print("build {} finished {}: {}".format(build.id, build.status, build.status_text))


def check_artifacts(tc, build):
    locator = "id:{}".format(build.id)
    expect_equal(build.artifacts.count, 2, "artifacts count on the build")
    root = tc.builds.get_root(locator)
    files = {f.name: f for f in root.file or []}
    expect_equal(sorted(files), ["app.jar", "reports"], "top-level artifacts")
    base = "/app/rest/builds/id:{}/artifacts".format(build.id)
    expect_equal(files["app.jar"].size, 3, "size of app.jar")
    expect_equal(files["app.jar"].content.href, base + "/content/app.jar", "app.jar content href")
    expect_equal(
        files["reports"].children.href, base + "/children/reports", "reports children href"
    )

    expect_refusal(
        lambda: tc.builds.get_children("/reports", locator),
        400,
        "an artifact path with an encoded slash",
    )
    tc.configuration.safe_chars_for_path_param = "/"
    try:
        inside = tc.builds.get_children("/reports", locator)
        content = tc.builds.get_content("/app.jar", locator, _preload_content=False)
    finally:
        tc.configuration.safe_chars_for_path_param = ""
    expect_equal([f.name for f in inside.file or []], ["index.html"], "artifacts in reports/")
    expect_equal(content.data, b"jar", "content of app.jar")


def cancel_queued(tc):
    queued = tc.build_queues.queue_new_build(body=Build(build_type=BuildType(id=QUEUED_BUILD_TYPE)))
    locator = "id:{}".format(queued.id)
    waiting = tc.build_queues.get_build(locator)
    expect_equal(waiting.state, "queued", "state of a build held in the queue")
    expect(waiting.wait_reason, "a waiting build has no waitReason")
    listed = tc.build_queues.get_builds(locator="buildType:(id:{})".format(QUEUED_BUILD_TYPE))
    expect(queued.id in [b.id for b in listed.build or []], "the queue does not list the build")

    canceled = tc.build_queues.cancel_build_0(
        locator, body=BuildCancelRequest(comment="no longer needed", readd_into_queue=False)
    )
    expect_equal(canceled.id, queued.id, "id of the canceled build")
    expect_equal(canceled.state, "finished", "state after removal from the queue")
    expect_equal(canceled.status, "UNKNOWN", "status of a build canceled in the queue")
    expect_equal(canceled.number, "N/A", "number of a build that never ran")
    expect_equal(canceled.canceled_info.text, "no longer needed", "canceledInfo text")
    expect_equal(canceled.canceled_info.user.username, "ci-bot", "canceledInfo user")

    info = tc.builds.get_canceled_info(locator)
    expect_equal(info.text, "no longer needed", "canceledInfo resource")
    expect_refusal(
        lambda: tc.build_queues.cancel_build_0(
            locator, body=BuildCancelRequest(comment="again", readd_into_queue=False)
        ),
        404,
        "removing a build that already left the queue",
    )
    print("removed build {} from the queue".format(queued.id))


def main(argv):
    url = argv[1] if len(argv) > 1 else os.environ.get("TEAMCITY_URL")
    token = argv[2] if len(argv) > 2 else os.environ.get("TEAMCITY_TOKEN")
    if not url or not token:
        print("usage: teamcity_check.py URL TOKEN (or TEAMCITY_URL, TEAMCITY_TOKEN)", file=sys.stderr)
        return 2
    tc = client(url, token)
    try:
        check_server(tc, url)
        build_id = queue_build(tc)
        read_from_queue(tc, build_id)
        check_result(tc, wait_until_finished(tc, build_id))
        cancel_queued(tc)
    except Mismatch as mismatch:
        print("MISMATCH: {}".format(mismatch), file=sys.stderr)
        return 1
    except ApiException as error:
        print(
            "MISMATCH: unexpected HTTP {} {}: {}".format(error.status, error.reason, error.body),
            file=sys.stderr,
        )
        return 1
    print("dohq-teamcity agrees with the server")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
