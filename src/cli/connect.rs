//! Turning `--server`, `--token` and `--data-dir` into an [`ApiClient`]: where the token
//! comes from (flag or environment, else a local daemon's `admin.token`), and what to tell
//! the user when the daemon refuses it. The token itself is never printed.

use std::io::ErrorKind;
use std::net::IpAddr;
use std::path::PathBuf;

use reqwest::Url;

use super::args::ClientArgs;
use super::client::{ApiClient, ClientError};
use crate::config::ADMIN_TOKEN_FILE;

/// Where the token sent to the daemon came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `--token` or `BATON_TOKEN`.
    Given,
    /// A local daemon's admin token file.
    File(PathBuf),
    /// No token: the file was looked for (loopback daemon) and why it was not used, or not.
    Missing {
        looked_in: Option<PathBuf>,
        problem: Option<String>,
    },
}

/// The client for the daemon `args` name, and where its token came from.
pub fn connect(args: &ClientArgs) -> Result<(ApiClient, TokenSource), ClientError> {
    let base = ApiClient::parse_base(args.server())?;
    let (token, source) = match args.token.as_deref().map(str::trim) {
        Some(token) if !token.is_empty() => (Some(token.to_string()), TokenSource::Given),
        _ if is_loopback(&base) => read_token_file(args.data_dir().join(ADMIN_TOKEN_FILE)),
        _ => (
            None,
            TokenSource::Missing {
                looked_in: None,
                problem: None,
            },
        ),
    };
    Ok((ApiClient::new(base, token)?, source))
}

/// Whether `url` names this machine, whose daemon's data directory we may read.
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

fn read_token_file(path: PathBuf) -> (Option<String>, TokenSource) {
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => {
            (Some(text.trim().to_string()), TokenSource::File(path))
        }
        Ok(_) => missing(path, Some("it is empty".into())),
        Err(e) if e.kind() == ErrorKind::NotFound => missing(path, None),
        Err(e) => missing(path, Some(format!("cannot read it: {e}"))),
    }
}

fn missing(path: PathBuf, problem: Option<String>) -> (Option<String>, TokenSource) {
    let source = TokenSource::Missing {
        looked_in: Some(path),
        problem,
    };
    (None, source)
}

/// What to say when the daemon answers 401, given where the token came from.
pub fn unauthorized_help(source: &TokenSource) -> String {
    match source {
        TokenSource::Given => {
            "the daemon rejected the token given by --token or BATON_TOKEN".into()
        }
        TokenSource::File(path) => format!(
            "the daemon rejected the token read from {}; is --data-dir (BATON_DATA_DIR) \
             this daemon's data directory? Otherwise pass --token or set BATON_TOKEN",
            path.display()
        ),
        TokenSource::Missing {
            looked_in: None, ..
        } => "the daemon needs a token: pass --token or set BATON_TOKEN".into(),
        TokenSource::Missing {
            looked_in: Some(path),
            problem,
        } => {
            let why = problem.as_deref().unwrap_or("it does not exist");
            format!(
                "the daemon needs a token: pass --token or set BATON_TOKEN; for a daemon on \
                 this machine it is read from {} ({why}; set --data-dir or BATON_DATA_DIR to \
                 the daemon's data directory)",
                path.display()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn args(server: &str, token: Option<&str>, data_dir: &Path) -> ClientArgs {
        ClientArgs {
            server: Some(server.into()),
            token: token.map(str::to_string),
            data_dir: Some(data_dir.to_path_buf()),
        }
    }

    #[test]
    fn loopback_hosts() {
        for (url, expected) in [
            ("http://127.0.0.1:8700", true),
            ("http://127.1.2.3", true),
            ("http://localhost:1", true),
            ("http://LOCALHOST", true),
            ("http://[::1]:8700", true),
            ("http://10.0.0.1:8700", false),
            ("https://baton.example.com", false),
        ] {
            let parsed = Url::parse(url).expect("url");
            assert_eq!(is_loopback(&parsed), expected, "{url}");
        }
    }

    #[test]
    fn token_from_flag_then_local_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(ADMIN_TOKEN_FILE);

        let (_, source) = connect(&args("http://127.0.0.1:8700", None, dir.path())).expect("ok");
        assert_eq!(
            source,
            TokenSource::Missing {
                looked_in: Some(file.clone()),
                problem: None
            }
        );

        std::fs::write(&file, "  tok-from-file\n").expect("write");
        let (client, source) =
            connect(&args("http://127.0.0.1:8700", None, dir.path())).expect("ok");
        assert_eq!(source, TokenSource::File(file.clone()));
        assert!(!format!("{client:?}").contains("tok-from-file"));

        let (_, source) =
            connect(&args("http://127.0.0.1:8700", Some("given"), dir.path())).expect("ok");
        assert_eq!(source, TokenSource::Given);

        // A remote daemon's token is not on this machine.
        let (_, source) = connect(&args("https://ci.example.com", None, dir.path())).expect("ok");
        assert_eq!(
            source,
            TokenSource::Missing {
                looked_in: None,
                problem: None
            }
        );
    }

    #[test]
    fn help_says_where_the_token_is_looked_for() {
        let help = unauthorized_help(&TokenSource::Missing {
            looked_in: Some(PathBuf::from("baton-data/admin.token")),
            problem: None,
        });
        assert_eq!(
            help,
            "the daemon needs a token: pass --token or set BATON_TOKEN; for a daemon on this \
             machine it is read from baton-data/admin.token (it does not exist; set --data-dir \
             or BATON_DATA_DIR to the daemon's data directory)"
        );
    }
}
