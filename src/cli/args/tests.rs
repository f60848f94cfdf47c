//! Parsing tests: the declaration is consistent and each command reads its flags.

use clap::{CommandFactory, Parser};

use super::*;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("baton").chain(args.iter().copied()))
}

#[test]
fn declaration_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn run_start_collects_variables_and_flags() {
    let cli = parse(&[
        "run",
        "start",
        "web",
        "--var",
        "A=1",
        "--var",
        "B=x=y",
        "--var",
        "C=",
        "--wait",
        "--revision",
        "abc",
    ])
    .expect("parses");
    let Command::Run {
        command:
            RunCommand::Start {
                pipeline,
                vars,
                revision,
                wait,
                output,
            },
        ..
    } = cli.command
    else {
        panic!("not run start: {cli:?}");
    };
    assert_eq!(pipeline, "web");
    assert_eq!(
        vars,
        [("A", "1"), ("B", "x=y"), ("C", "")].map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert_eq!(revision.as_deref(), Some("abc"));
    assert!(wait);
    assert_eq!(output, Output::Text);
}

#[test]
fn malformed_variable_is_a_usage_error() {
    let err = parse(&["run", "start", "web", "--var", "novalue"]).expect_err("rejected");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("expected K=V"), "{err}");
    assert!(parse(&["run", "start", "web", "--var", "=v"]).is_err());
}

#[test]
fn client_flags_go_before_or_after_the_subcommand() {
    for args in [
        &["pipeline", "--server", "http://h:1", "list"][..],
        &["pipeline", "list", "--server", "http://h:1"][..],
    ] {
        let cli = parse(args).expect("parses");
        let Command::Pipeline { client, .. } = cli.command else {
            panic!("not pipeline: {cli:?}");
        };
        assert_eq!(client.server(), "http://h:1");
    }
    let cli = parse(&["approve", "id", "S", "A", "--token", "t", "--reject"]).expect("parses");
    let Command::Approve(args) = cli.command else {
        panic!("not approve");
    };
    assert_eq!(args.client.token.as_deref(), Some("t"));
    assert!(args.reject);
}

#[test]
fn output_formats_per_command() {
    let cli = parse(&["pipeline", "get", "web"]).expect("parses");
    assert!(matches!(
        cli.command,
        Command::Pipeline {
            command: PipelineCommand::Get {
                output: DefinitionOutput::Yaml,
                ..
            },
            ..
        }
    ));
    let cli = parse(&["run", "get", "id", "-o", "json"]).expect("parses");
    assert!(matches!(
        cli.command,
        Command::Run {
            command: RunCommand::Get {
                output: Output::Json,
                ..
            },
            ..
        }
    ));
    assert!(parse(&["run", "get", "id", "-o", "yaml"]).is_err());
}

#[test]
fn required_arguments() {
    assert!(parse(&["transition", "disable", "web", "Deploy"]).is_err());
    assert!(parse(&[
        "transition",
        "disable",
        "web",
        "Deploy",
        "--reason",
        "freeze"
    ])
    .is_ok());
    assert!(parse(&["validate"]).is_err());
    assert!(parse(&["run", "logs", "id", "Build"]).is_err());
}

#[test]
fn serve_overrides() {
    let cli = parse(&[
        "serve",
        "--listen",
        "0.0.0.0:9000",
        "--data-dir",
        "d",
        "--log-json",
    ])
    .expect("parses");
    let Command::Serve(args) = cli.command else {
        panic!("not serve");
    };
    assert_eq!(args.listen, Some(SocketAddr::from(([0, 0, 0, 0], 9000))));
    assert_eq!(args.data_dir, Some(PathBuf::from("d")));
    assert!(args.log_json);
    assert!(parse(&["serve", "--listen", "nonsense"]).is_err());
}
