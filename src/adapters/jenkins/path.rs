//! Job paths: the `ProjectName` of an action is a Jenkins full name (`team/app/build`, as
//! `JOB_NAME` shows it), one item name per folder level. On the wire each level becomes a
//! `job/<segment>` pair, the segment encoded like Jenkins' `Util.rawEncode` (reference
//! §11). Multibranch branch jobs are *named* with `/` already encoded as `%2F`
//! (`repo/feature%2Ffoo`), so their URL carries `%252F`, which is what Jenkins expects.

use std::fmt;

/// A job's full name, checked where it enters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobPath {
    names: Vec<String>,
}

impl JobPath {
    /// Reads a full name such as `team/app/build` or `repo/feature%2Ffoo`.
    pub fn parse(text: &str) -> Result<JobPath, String> {
        let trimmed = text.trim().trim_matches('/');
        if trimmed.is_empty() {
            return Err("ProjectName is empty".into());
        }
        let names: Vec<String> = trimmed.split('/').map(str::to_string).collect();
        for name in &names {
            if name.is_empty() {
                return Err(format!(
                    "ProjectName `{text}` has an empty folder level (`//`)"
                ));
            }
            if name == "." || name == ".." {
                return Err(format!("ProjectName `{text}` has a `{name}` level"));
            }
            if name.chars().any(char::is_control) {
                return Err(format!("ProjectName `{text}` has a control character"));
            }
        }
        Ok(JobPath { names })
    }

    /// Reads a job URL path relative to the Jenkins root or absolute (`job/a/job/b/`,
    /// `http://host/jenkins/job/a/job/b/57/`), as callbacks and queue items carry it.
    /// Returns the job and the build number when the path goes on to one.
    pub fn from_url(url: &str) -> Option<(JobPath, Option<u64>)> {
        let path = match url.find("://") {
            Some(scheme_end) => {
                let rest = &url[scheme_end + 3..];
                &rest[rest.find('/')?..]
            }
            None => url,
        };
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let mut segments = path.split('/').filter(|s| !s.is_empty()).peekable();
        // Skip a context path (`/jenkins/`) up to the first `job` level.
        while segments.peek().is_some_and(|s| *s != "job") {
            segments.next();
        }
        let mut names = Vec::new();
        let mut number = None;
        while let Some(segment) = segments.next() {
            if segment == "job" {
                names.push(decode(segments.next()?)?);
            } else if number.is_none() && !names.is_empty() {
                number = Some(segment.parse().ok()?);
            } else {
                return None;
            }
        }
        if names.is_empty() {
            return None;
        }
        Some((JobPath { names }, number))
    }

    /// The full name, as Jenkins' `fullName` and `JOB_NAME` show it.
    pub fn full_name(&self) -> String {
        self.names.join("/")
    }

    /// `job/a/job/b/`: the job's URL path under the Jenkins root, encoded, with a
    /// trailing slash.
    pub fn url_path(&self) -> String {
        let mut path = String::new();
        for name in &self.names {
            path.push_str("job/");
            path.push_str(&raw_encode(name));
            path.push('/');
        }
        path
    }

    /// `job/a/job/b/57/`: a build's URL path.
    pub fn build_path(&self, number: u64) -> String {
        format!("{}{number}/", self.url_path())
    }
}

impl fmt::Display for JobPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full_name())
    }
}

/// Encodes one path segment as Jenkins' `Util.rawEncode` does: letters, digits and
/// `!$&'()*+,-.=@_` stay, every other byte of the UTF-8 text becomes `%XX`.
pub fn raw_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"!$&'()*+,-.=@_".contains(&byte);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Encodes an artifact's relative path (`build/libs/app.jar`) segment by segment.
pub fn encode_relative(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(raw_encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// Undoes one level of percent-encoding; `None` for a broken escape or invalid UTF-8.
pub fn decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = segment.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, url_path: &str) {
        let path = JobPath::parse(name).unwrap();
        assert_eq!(path.url_path(), url_path, "{name}");
        assert_eq!(path.full_name(), name.trim_matches('/'));
        let (back, number) = JobPath::from_url(url_path).unwrap();
        assert_eq!(back, path, "{url_path}");
        assert_eq!(number, None);
    }

    #[test]
    fn folders_become_job_segments() {
        check("build", "job/build/");
        check("team/app/build", "job/team/job/app/job/build/");
        check("/team/deploy/", "job/team/job/deploy/");
    }

    #[test]
    fn segments_are_raw_encoded() {
        check("my team/app #2", "job/my%20team/job/app%20%232/");
        check("ops/déploiement", "job/ops/job/d%C3%A9ploiement/");
        check("a/x!$&'()*+,-.=@_y", "job/a/job/x!$&'()*+,-.=@_y/");
        check("a/b~c:d;e?f", "job/a/job/b%7Ec%3Ad%3Be%3Ff/");
    }

    #[test]
    fn multibranch_branch_names_are_double_encoded() {
        check("repo/feature%2Ffoo", "job/repo/job/feature%252Ffoo/");
        assert_eq!(
            JobPath::parse("repo/feature%2Ffoo").unwrap().build_path(3),
            "job/repo/job/feature%252Ffoo/3/"
        );
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(JobPath::parse("").is_err());
        assert!(JobPath::parse(" / ").is_err());
        assert!(JobPath::parse("a//b").is_err());
        assert!(JobPath::parse("a/../b").is_err());
        assert!(JobPath::parse("a\nb").is_err());
    }

    #[test]
    fn urls_from_callbacks_and_queue_items() {
        let deploy = JobPath::parse("team/deploy").unwrap();
        assert_eq!(
            JobPath::from_url("job/team/job/deploy/57/"),
            Some((deploy.clone(), Some(57)))
        );
        assert_eq!(
            JobPath::from_url("http://jenkins.example.com:8080/job/team/job/deploy/"),
            Some((deploy.clone(), None))
        );
        assert_eq!(
            JobPath::from_url("https://ci.example.com/jenkins/job/team/job/deploy/57/"),
            Some((deploy, Some(57)))
        );
        assert_eq!(
            JobPath::from_url("job/repo/job/feature%252Ffoo/4/"),
            Some((JobPath::parse("repo/feature%2Ffoo").unwrap(), Some(4)))
        );
        assert_eq!(JobPath::from_url("queue/item/12/"), None);
        assert_eq!(JobPath::from_url("job/a/57/extra/"), None);
        assert_eq!(JobPath::from_url("job/a%zz/"), None);
    }

    #[test]
    fn artifact_paths_keep_their_slashes() {
        assert_eq!(
            encode_relative("build/libs/app 1.jar"),
            "build/libs/app%201.jar"
        );
    }
}
