//! Static checks of what users run next to Baton: `docker-compose.yml`, the Dockerfiles,
//! the Baton config and pipelines the compose setup mounts, the Jenkins configuration as
//! code, Job DSL and plugin list, and the settings shown in the integration guides. No
//! container engine is needed: every file is read and checked as text or YAML.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use baton::config::Settings;
use baton::model::{self, Catalog, ConfigValue, Pipeline, ServerEntry, ServerKind};
use serde_yaml::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn yaml(path: &Path) -> Value {
    serde_yaml::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

fn compose() -> Value {
    yaml(&root().join("docker-compose.yml"))
}

fn services(compose: &Value) -> Vec<(String, Value)> {
    compose
        .get("services")
        .and_then(Value::as_mapping)
        .expect("docker-compose.yml has a `services` mapping")
        .iter()
        .map(|(name, service)| {
            let name = name
                .as_str()
                .expect("service names are strings")
                .to_string();
            (name, service.clone())
        })
        .collect()
}

fn service(compose: &Value, name: &str) -> Value {
    services(compose)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("docker-compose.yml has no service `{name}`"))
}

/// A service's `environment`, given as a mapping or as a list of `KEY=VALUE`.
fn environment(service: &Value) -> BTreeMap<String, String> {
    match service.get("environment") {
        None => BTreeMap::new(),
        Some(Value::Mapping(map)) => map
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => serde_yaml::to_string(other).unwrap().trim().to_string(),
                };
                (k.as_str().unwrap().to_string(), value)
            })
            .collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| {
                let text = item.as_str().expect("environment entries are strings");
                let (k, v) = text.split_once('=').unwrap_or((text, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        Some(other) => panic!("`environment` must be a mapping or a list, found {other:?}"),
    }
}

/// The value compose gives `${VAR:-default}` when VAR is unset: the default, or the text.
fn compose_default(value: &str) -> String {
    match value
        .strip_prefix("${")
        .and_then(|rest| rest.strip_suffix('}'))
    {
        Some(inner) => inner
            .split_once(":-")
            .map(|(_, default)| default.to_string())
            .unwrap_or_default(),
        None => value.to_string(),
    }
}

/// `${NAME}` references in `text`.
fn env_references(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        found.insert(after[..end].to_string());
        rest = &after[end + 1..];
    }
    found
}

/// The build context directory and Dockerfile of a service's `build`.
fn build_paths(build: &Value) -> (PathBuf, PathBuf) {
    let (context, dockerfile) = match build {
        Value::String(context) => (context.as_str(), "Dockerfile"),
        Value::Mapping(_) => (
            build.get("context").and_then(Value::as_str).unwrap_or("."),
            build
                .get("dockerfile")
                .and_then(Value::as_str)
                .unwrap_or("Dockerfile"),
        ),
        other => panic!("`build` must be a path or a mapping, found {other:?}"),
    };
    let context = root().join(context);
    let dockerfile = context.join(dockerfile);
    (context, dockerfile)
}

/// Sources of the `COPY` instructions of a Dockerfile (not `COPY --from`), relative to the
/// build context.
fn copy_sources(dockerfile: &str) -> Vec<String> {
    let mut sources = Vec::new();
    for line in dockerfile.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() != Some(&"COPY") || words.iter().any(|w| w.starts_with("--from")) {
            continue;
        }
        let args: Vec<&str> = words[1..]
            .iter()
            .copied()
            .filter(|w| !w.starts_with("--"))
            .collect();
        if let Some((_destination, from)) = args.split_last() {
            sources.extend(from.iter().map(|s| s.to_string()));
        }
    }
    sources
}

fn load_settings(path: &Path) -> Settings {
    // No environment: the files alone must load, with every `${VAR}` still unresolved.
    Settings::load_with_env(Some(path), std::iter::empty())
        .unwrap_or_else(|e| panic!("{} does not load: {e}", path.display()))
}

/// The pipeline that `baton demo` applies, in `config/pipelines/`.
const BATON_DEMO_PIPELINE: &str = "demo.yaml";

fn load_pipelines(dir: &Path, catalog: &Catalog) -> Vec<(PathBuf, Pipeline)> {
    load_pipelines_with(dir, |_| catalog.clone())
}

/// Loads every pipeline in `dir`, each against the catalog `catalog_for` gives its file,
/// and fails with every diagnostic if one does not validate.
fn load_pipelines_with(
    dir: &Path,
    catalog_for: impl Fn(&Path) -> Catalog,
) -> Vec<(PathBuf, Pipeline)> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no pipelines in {}", dir.display());
    let mut failures = Vec::new();
    let mut loaded = Vec::new();
    for file in files {
        let name = file
            .strip_prefix(root())
            .unwrap_or(&file)
            .display()
            .to_string();
        match model::load(&name, &read(&file), &catalog_for(&file)) {
            Ok(ok) => loaded.push((file, ok.pipeline)),
            Err(diagnostics) => failures.extend(diagnostics.iter().map(ToString::to_string)),
        }
    }
    assert!(
        failures.is_empty(),
        "pipelines do not validate:\n{}",
        failures.join("\n")
    );
    loaded
}

#[test]
fn every_service_has_an_image_or_a_build_whose_files_exist() {
    let compose = compose();
    let services = services(&compose);
    assert!(!services.is_empty());
    for (name, service) in &services {
        match (service.get("image"), service.get("build")) {
            (None, None) => panic!("service `{name}` has neither `image` nor `build`"),
            (_, Some(build)) => {
                let (context, dockerfile) = build_paths(build);
                assert!(
                    context.is_dir(),
                    "service `{name}`: build context {} is not a directory",
                    context.display()
                );
                assert!(
                    dockerfile.is_file(),
                    "service `{name}`: {} does not exist",
                    dockerfile.display()
                );
                for source in copy_sources(&read(&dockerfile)) {
                    assert!(
                        context.join(&source).exists(),
                        "{}: COPY source `{source}` is not in the build context {}",
                        dockerfile.display(),
                        context.display()
                    );
                }
            }
            (Some(image), None) => assert!(
                image.as_str().is_some_and(|i| !i.is_empty()),
                "service `{name}`: `image` must be a name"
            ),
        }
    }
}

#[test]
fn bind_mounts_exist_and_named_volumes_are_declared() {
    let compose = compose();
    let declared: BTreeSet<String> = compose
        .get("volumes")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for (name, service) in services(&compose) {
        let Some(volumes) = service.get("volumes").and_then(Value::as_sequence) else {
            continue;
        };
        for volume in volumes {
            let (source, bind) = match volume {
                Value::String(short) => {
                    let source = short.split(':').next().unwrap_or_default().to_string();
                    let bind = source.starts_with('.') || source.starts_with('/');
                    (source, bind)
                }
                Value::Mapping(_) => {
                    let kind = volume
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("volume");
                    let source = volume
                        .get("source")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    (source, kind == "bind")
                }
                other => panic!("service `{name}`: unexpected volume {other:?}"),
            };
            if bind {
                assert!(
                    !source.starts_with('/'),
                    "service `{name}`: bind mount `{source}` is absolute; use a path in the repository"
                );
                let path = root().join(&source);
                assert!(
                    path.exists(),
                    "service `{name}`: bind-mounted {} does not exist",
                    path.display()
                );
            } else if !source.is_empty() {
                assert!(
                    declared.contains(&source),
                    "service `{name}`: named volume `{source}` is not declared under `volumes`"
                );
            }
        }
    }
}

#[test]
fn dockerignore_keeps_build_output_and_data_out_of_the_context() {
    let ignore = read(&root().join(".dockerignore"));
    let entries: BTreeSet<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for needed in ["target/", "baton-data/", ".git/"] {
        assert!(
            entries.contains(needed),
            ".dockerignore does not list {needed}"
        );
    }
}

#[test]
fn compose_baton_config_loads_and_matches_the_compose_services() {
    let compose = compose();
    let config = root().join("integrations/compose/baton.yaml");
    let settings = load_settings(&config);

    assert_eq!(settings.listen.port(), 8700);
    assert_eq!(settings.data_dir, PathBuf::from("/var/lib/baton"));
    assert_eq!(settings.public_url(), "http://baton:8700");

    let kinds: BTreeMap<&str, String> = settings
        .servers
        .iter()
        .map(|s| (s.name.as_str(), s.kind.to_string()))
        .collect();
    assert_eq!(kinds.get("jenkins").map(String::as_str), Some("Jenkins"));
    assert_eq!(kinds.get("teamcity").map(String::as_str), Some("TeamCity"));

    // Every server's URL names a compose service, and every server takes callbacks.
    let names: BTreeSet<String> = services(&compose).into_iter().map(|(n, _)| n).collect();
    for server in &settings.servers {
        let host = server
            .url
            .trim_start_matches("http://")
            .split([':', '/'])
            .next()
            .unwrap_or_default();
        assert!(
            names.contains(host),
            "server `{}` points at `{host}`, which is no compose service",
            server.name
        );
        assert!(
            server.callback.is_some(),
            "server `{}` has no callback secret",
            server.name
        );
    }

    // The daemon resolves the config's `${VAR}`s at start: the baton service must set them.
    let baton = service(&compose, "baton");
    let env = environment(&baton);
    for var in env_references(&read(&config)) {
        assert!(
            env.contains_key(&var),
            "integrations/compose/baton.yaml uses ${{{var}}}, which the baton service does not set"
        );
    }

    // The config and pipelines are mounted where the image's CMD and the docs expect them.
    let mounts: Vec<String> = baton
        .get("volumes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    for expected in [
        "./integrations/compose/baton.yaml:/etc/baton/baton.yaml",
        "./integrations/compose/pipelines:/etc/baton/pipelines",
    ] {
        assert!(
            mounts.iter().any(|m| m.starts_with(expected)),
            "the baton service does not mount {expected}"
        );
    }
    let ports: Vec<String> = baton
        .get("ports")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    assert!(
        ports.iter().any(|p| p.ends_with(":8700")),
        "the baton service does not publish port 8700"
    );
}

#[test]
fn compose_demo_secrets_agree_between_baton_and_jenkins() {
    let compose = compose();
    let baton = environment(&service(&compose, "baton"));
    let jenkins = environment(&service(&compose, "jenkins"));

    let token = compose_default(&baton["JENKINS_TOKEN"]);
    assert_eq!(
        token,
        compose_default(&jenkins["BATON_JENKINS_API_TOKEN"]),
        "Baton's JENKINS_TOKEN and the token Jenkins gives the user baton differ"
    );
    // What init.groovy.d/baton-api-token.groovy accepts: "11" and 32 lowercase hex digits.
    assert!(
        token.len() == 34
            && token.starts_with("11")
            && token[2..]
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "the demo JENKINS_TOKEN `{token}` is not a Jenkins API token"
    );

    let secret = compose_default(&baton["BATON_CALLBACK_SECRET"]);
    assert_eq!(
        secret,
        compose_default(&jenkins["BATON_CALLBACK_SECRET"]),
        "Baton and Jenkins disagree on the callback secret"
    );
    // The Notification plugin drops URLs holding `$`, and the secret travels in a query.
    assert!(
        secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "the demo callback secret must be URL-safe"
    );
    assert_eq!(
        jenkins.get("BATON_URL").map(String::as_str),
        Some("http://baton:8700")
    );
}

#[test]
fn pipelines_validate_against_their_configs() {
    let compose_settings = load_settings(&root().join("integrations/compose/baton.yaml"));
    load_pipelines(
        &root().join("integrations/compose/pipelines"),
        &compose_settings.catalog(),
    );

    // config/pipelines against config/baton.yaml, except the pipeline `baton demo` runs,
    // which names the demo's own simulated servers (src/demo.rs).
    let example_settings = load_settings(&root().join("config/baton.yaml"));
    let demo_catalog = Catalog {
        servers: vec![
            ServerEntry {
                name: "jenkins-demo".into(),
                kind: ServerKind::Jenkins,
            },
            ServerEntry {
                name: "teamcity-demo".into(),
                kind: ServerKind::TeamCity,
            },
        ],
        git_connections: BTreeMap::new(),
        action_types: BTreeMap::new(),
    };
    load_pipelines_with(&root().join("config/pipelines"), |file| {
        if file
            .file_name()
            .is_some_and(|name| name == BATON_DEMO_PIPELINE)
        {
            demo_catalog.clone()
        } else {
            example_settings.catalog()
        }
    });
}

/// The part of a Job DSL script that defines `job`: from its `pipelineJob('job')` to the
/// next job definition.
fn dsl_job_block<'a>(dsl: &'a str, job: &str) -> Option<&'a str> {
    let start = dsl.find(&format!("pipelineJob('{job}')"))?;
    let rest = &dsl[start + 1..];
    let end = rest
        .find("pipelineJob(")
        .map_or(dsl.len(), |i| start + 1 + i);
    Some(&dsl[start..end])
}

#[test]
fn job_dsl_defines_every_jenkins_job_of_the_demo_with_its_parameters() {
    let settings = load_settings(&root().join("integrations/compose/baton.yaml"));
    let dsl = read(&root().join("integrations/jenkins/job-dsl/baton-jobs.groovy"));
    let pipelines = load_pipelines(
        &root().join("integrations/compose/pipelines"),
        &settings.catalog(),
    );
    let mut jobs = 0;
    for (file, pipeline) in &pipelines {
        for action in pipeline.stages.iter().flat_map(|s| &s.actions) {
            if action.action_type_id.provider != "Jenkins" {
                continue;
            }
            jobs += 1;
            let job = action.config_text("ProjectName").unwrap_or_else(|| {
                panic!("{}: `{}` has no ProjectName", file.display(), action.name)
            });
            if let Some((folder, _)) = job.rsplit_once('/') {
                assert!(
                    dsl.contains(&format!("folder('{folder}')")),
                    "baton-jobs.groovy does not create the folder `{folder}`"
                );
            }
            let block = dsl_job_block(&dsl, job)
                .unwrap_or_else(|| panic!("baton-jobs.groovy does not define the job `{job}`"));
            // Jenkins silently drops parameters a job does not define.
            let mut needed = vec!["BATON_ACTION_RUN".to_string()];
            if let Some(ConfigValue::Map(parameters)) = action.configuration.get("Parameters") {
                needed.extend(parameters.keys().cloned());
            }
            for parameter in needed {
                assert!(
                    block.contains(&format!("stringParam('{parameter}'")),
                    "job `{job}` does not define the parameter {parameter} that `{}` passes",
                    action.name
                );
            }
            assert!(
                block.contains("configure notifyBaton"),
                "job `{job}` does not notify Baton"
            );
        }
    }
    assert!(jobs > 0, "the compose pipelines use no Jenkins job");
}

#[test]
fn jenkins_image_files_exist_and_agree() {
    let dir = root().join("integrations/jenkins");
    for file in [
        "Dockerfile",
        "README.md",
        "casc.yaml",
        "plugins.txt",
        "Jenkinsfile.callback",
        "notification-endpoint.md",
        "job-dsl/baton-jobs.groovy",
        "init.groovy.d/baton-api-token.groovy",
    ] {
        assert!(
            dir.join(file).is_file(),
            "integrations/jenkins/{file} is missing"
        );
    }

    let casc = yaml(&dir.join("casc.yaml"));
    for key in ["jenkins", "credentials", "security", "unclassified", "jobs"] {
        assert!(casc.get(key).is_some(), "casc.yaml has no `{key}`");
    }
    assert!(
        casc.get("unclassified")
            .and_then(|u| u.get("location"))
            .and_then(|l| l.get("url"))
            .is_some(),
        "casc.yaml does not set unclassified.location.url"
    );
    let users = casc["jenkins"]["securityRealm"]["local"]["users"]
        .as_sequence()
        .expect("casc.yaml defines local users");
    assert!(
        users.iter().any(|u| u["id"].as_str() == Some("baton")),
        "casc.yaml does not create the user baton"
    );
    // The seed job reads the Job DSL where the Dockerfile puts it.
    let dockerfile = read(&dir.join("Dockerfile"));
    let seed = casc["jobs"][0]["script"]
        .as_str()
        .expect("a seed job script");
    assert!(
        seed.contains("/usr/share/jenkins/baton/job-dsl/baton-jobs.groovy")
            && dockerfile.contains("COPY job-dsl/ /usr/share/jenkins/baton/job-dsl/"),
        "the seed job and the Dockerfile disagree on where baton-jobs.groovy is"
    );
    assert!(dockerfile.contains("CASC_JENKINS_CONFIG=/usr/share/jenkins/baton/casc.yaml"));
    assert!(dockerfile.contains("runSetupWizard=false"));
    assert!(dockerfile.contains("jenkins-plugin-cli --plugin-file"));
    // JCasC would try to resolve `${…}` inside the seed script itself.
    assert!(
        !seed.contains("${"),
        "the seed script must not contain ${{…}}"
    );

    // Every environment variable casc.yaml needs without a default is set by compose.
    let jenkins_env = environment(&service(&compose(), "jenkins"));
    for var in env_references(&read(&dir.join("casc.yaml"))) {
        if var.contains(":-") {
            continue;
        }
        assert!(
            jenkins_env.contains_key(&var),
            "casc.yaml uses ${{{var}}}, which the jenkins service does not set"
        );
    }
}

#[test]
fn plugins_txt_lists_the_plugins_the_docs_name() {
    let dir = root().join("integrations/jenkins");
    let listed: BTreeSet<String> = read(&dir.join("plugins.txt"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(':').next().unwrap().trim().to_string())
        .collect();
    for required in [
        "configuration-as-code",
        "job-dsl",
        "workflow-aggregator",
        "notification",
        "git",
        "cloudbees-folder",
    ] {
        assert!(
            listed.contains(required),
            "plugins.txt does not list `{required}`"
        );
    }
    let readme = read(&dir.join("README.md"));
    for id in &listed {
        assert!(
            readme.contains(&format!("`{id}`")),
            "integrations/jenkins/README.md does not mention the plugin `{id}` of plugins.txt"
        );
    }
}

#[test]
fn teamcity_guide_exists() {
    let dir = root().join("integrations/teamcity");
    let readme = read(&dir.join("README.md"));
    for needed in [
        "teamcity.internal.webhooks.enable",
        "teamcity.internal.webhooks.url",
        "teamcity.internal.webhooks.events",
        "BUILD_INTERRUPTED",
        "baton.action.run",
        "Demo_UnitTests",
    ] {
        assert!(
            readme.contains(needed),
            "integrations/teamcity/README.md does not mention {needed}"
        );
    }
}

/// The fenced YAML blocks of a Markdown file.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, fence) if fence.starts_with("```yaml") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn daemon_settings_shown_in_the_guides_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for guide in [
        "integrations/jenkins/README.md",
        "integrations/teamcity/README.md",
        "README.md",
    ] {
        let text = read(&root().join(guide));
        for (i, block) in yaml_blocks(&text).into_iter().enumerate() {
            if !block.lines().any(|l| l.starts_with("servers:")) {
                continue;
            }
            let file = dir.path().join(format!("block-{checked}.yaml"));
            fs::write(&file, &block).unwrap();
            if let Err(e) = Settings::load_with_env(Some(&file), std::iter::empty()) {
                panic!("{guide}: YAML block {} does not load: {e}\n{block}", i + 1);
            }
            checked += 1;
        }
    }
    assert!(checked >= 2, "the guides show no daemon settings");
}
