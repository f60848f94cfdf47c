//! The command line as clap declares it: every subcommand and flag of `baton`, with the
//! environment variables that stand in for flags. Nothing here runs anything.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Where client commands look for the daemon when neither `--server` nor `BATON_SERVER`
/// says otherwise; the daemon's default listen address.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8700";

/// The daemon's default data directory, where it keeps its generated admin token.
pub const DEFAULT_DATA_DIR: &str = "baton-data";

#[derive(Debug, Parser)]
#[command(
    name = "baton",
    version,
    about = "Release pipelines modelled on AWS CodePipeline, run on Jenkins and TeamCity",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (HTTP API, engine and CI followers)
    Serve(ServeArgs),
    /// Check pipeline definitions locally, without a daemon
    Validate(ValidateArgs),
    /// Run the example pipeline against simulated Jenkins and TeamCity, live
    Demo(DemoArgs),
    /// Create, inspect and delete pipelines
    Pipeline {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: PipelineCommand,
    },
    /// Start, follow, stop and retry executions
    Run {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: RunCommand,
    },
    /// Approve (or reject) a manual approval action
    Approve(ApproveArgs),
    /// Disable or enable the transition into a stage
    Transition {
        #[command(flatten)]
        client: ClientArgs,
        #[command(subcommand)]
        command: TransitionCommand,
    },
    /// Run jobs of a custom action type: poll, acknowledge, run a command, report
    Worker(WorkerArgs),
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The custom action type whose jobs to take
    #[arg(long, value_name = "CATEGORY/PROVIDER/VERSION")]
    pub action_type: String,
    /// Shell command run for each job (`sh -c`), with the job in its environment
    #[arg(long, value_name = "COMMAND")]
    pub exec: String,
    /// Longest wait of one poll, in seconds
    #[arg(long, default_value_t = 20, value_name = "SECONDS")]
    pub poll_wait: u64,
    /// Stop after this many jobs (default: run until stopped)
    #[arg(long, value_name = "N")]
    pub max_jobs: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Daemon settings file (YAML); defaults apply without one
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, overriding the settings
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Data directory (database, admin token), overriding the settings
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log as JSON lines instead of human-readable text
    #[arg(long)]
    pub log_json: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stay up after the execution ends (until Ctrl-C), to explore with the CLI
    #[arg(long)]
    pub keep: bool,
    /// Approve the release gate after this long; `never` waits for `baton approve`
    #[arg(long, value_name = "DURATION", default_value = "4s", value_parser = parse_approval_delay)]
    pub approve_after: ApprovalDelay,
    /// How long each simulated build runs
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration)]
    pub build_time: std::time::Duration,
    /// Address for the daemon (port 0 picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Plain progress lines instead of the live board
    #[arg(long)]
    pub plain: bool,
}

/// When the demo approves its release gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalDelay {
    After(std::time::Duration),
    Never,
}

fn parse_approval_delay(text: &str) -> Result<ApprovalDelay, String> {
    if text == "never" {
        return Ok(ApprovalDelay::Never);
    }
    humantime::parse_duration(text)
        .map(ApprovalDelay::After)
        .map_err(|e| format!("{e} (a duration such as 4s, or `never`)"))
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Daemon settings file, for the CI servers and connections pipelines may name
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Pipeline definitions (YAML or JSON)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// How client commands reach the daemon; accepted before or after the subcommand.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Daemon")]
pub struct ClientArgs {
    /// URL of the Baton daemon [default: http://127.0.0.1:8700]
    #[arg(long, global = true, env = "BATON_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// API token [default for a daemon on this machine: DATA_DIR/admin.token]
    #[arg(
        long,
        global = true,
        env = "BATON_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Data directory of a daemon on this machine, to read its admin token [default: baton-data]
    #[arg(long, global = true, env = "BATON_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

impl ClientArgs {
    pub fn server(&self) -> &str {
        self.server.as_deref().unwrap_or(DEFAULT_SERVER)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }
}

/// Output of commands that print a result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people
    #[default]
    Text,
    /// The API's JSON answer, pretty-printed
    Json,
}

/// Output of `pipeline get`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum DefinitionOutput {
    /// The definition alone, ready for `pipeline apply`
    #[default]
    Yaml,
    /// The whole answer: definition, version, timestamps, transitions
    Json,
}

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Create or update a pipeline from a YAML or JSON definition
    Apply {
        /// The definition; `aws codepipeline get-pipeline` output is accepted as is
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Pipeline name, when the file does not say it
        #[arg(long)]
        name: Option<String>,
        /// Output format
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    /// List pipelines with their latest execution
    List {
        /// Output format
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    /// Show a pipeline's definition
    Get {
        /// Pipeline name
        name: String,
        /// Output format
        #[arg(short, long, value_enum, default_value_t)]
        output: DefinitionOutput,
    },
    /// Delete a pipeline
    Delete {
        /// Pipeline name
        name: String,
        /// Output format
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Start an execution and print its id
    Start {
        /// Pipeline name
        pipeline: String,
        /// Pipeline variable, repeatable
        #[arg(long = "var", value_name = "K=V", value_parser = parse_var)]
        vars: Vec<(String, String)>,
        /// Source revision to build instead of the latest
        #[arg(long, value_name = "REV")]
        revision: Option<String>,
        /// Follow the execution; exit 0 only if it succeeds
        #[arg(long)]
        wait: bool,
        /// Output format
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    /// List a pipeline's executions, newest first
    List {
        /// Pipeline name
        pipeline: String,
        /// Output format
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    /// Show an execution: stages, actions, links, errors, outputs
    Get {
        /// Execution id
        id: String,
        /// Output format
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    /// Follow an execution until it ends; exit 0 only if it succeeds
    Watch {
        /// Execution id
        id: String,
        /// Output format
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    /// Print the CI build log of an action
    Logs {
        /// Execution id
        id: String,
        /// Stage name
        stage: String,
        /// Action name
        action: String,
        /// Keep printing until the build ends
        #[arg(short, long)]
        follow: bool,
    },
    /// Stop an execution
    Stop {
        /// Execution id
        id: String,
        /// Abandon in-progress actions instead of letting them finish
        #[arg(long)]
        abandon: bool,
        /// Why, recorded with the execution
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Output format
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    /// Retry a failed stage
    Retry {
        /// Execution id
        id: String,
        /// Stage name
        stage: String,
        /// Run every action of the stage again, not only the failed ones
        #[arg(long)]
        all_actions: bool,
        /// Output format
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Execution id
    pub id: String,
    /// Stage name
    pub stage: String,
    /// Action name
    pub action: String,
    /// Reject instead of approve
    #[arg(long)]
    pub reject: bool,
    /// Recorded with the decision
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Output format
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Output,
}

#[derive(Debug, Subcommand)]
pub enum TransitionCommand {
    /// Stop executions from entering a stage
    Disable {
        /// Pipeline name
        pipeline: String,
        /// Stage name
        stage: String,
        /// Why, shown with the pipeline while the transition is disabled
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Output format
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
    /// Let executions enter a stage again
    Enable {
        /// Pipeline name
        pipeline: String,
        /// Stage name
        stage: String,
        /// Output format
        #[arg(short, long, value_enum, default_value_t)]
        output: Output,
    },
}

/// Parses `K=V`; the value may itself contain `=` and may be empty.
fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("expected K=V, got `{text}`")),
    }
}

#[cfg(test)]
mod tests;
