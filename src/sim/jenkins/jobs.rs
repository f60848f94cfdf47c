//! The item tree: folders (plain, or multibranch projects whose jobs are branches named
//! with `NameEncoder`) and jobs with their builds. Items are found by the decoded path
//! segments of a request, with `MultiBranchProject.getItem`'s leniency for branch names.

use std::collections::BTreeMap;

use super::builds::Build;
use super::names::{name_decode, name_encode, raw_encode};
use super::spec::{JobKind, JobSpec};

/// A folder's child.
#[derive(Debug)]
pub(super) enum Node {
    Folder(Folder),
    /// Index into `World::jobs`.
    Job(usize),
}

/// A folder (`com.cloudbees.hudson.plugins.folder.Folder`) or a multibranch project.
#[derive(Debug, Default)]
pub(super) struct Folder {
    pub(super) names: Vec<String>,
    pub(super) multibranch: bool,
    pub(super) children: BTreeMap<String, Node>,
}

impl Folder {
    pub(super) fn class(&self) -> &'static str {
        if self.multibranch {
            "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"
        } else {
            "com.cloudbees.hudson.plugins.folder.Folder"
        }
    }

    /// `MultiBranchProject.getItem`: the name as is, then decoded, then encoded.
    pub(super) fn child(&self, name: &str) -> Option<&Node> {
        if let Some(node) = self.children.get(name) {
            return Some(node);
        }
        if !self.multibranch {
            return None;
        }
        if name.contains('%') {
            if let Some(node) = self.children.get(&name_decode(name)) {
                return Some(node);
            }
        }
        self.children.get(&name_encode(name))
    }
}

/// A job and its builds, oldest first.
#[derive(Debug)]
pub(super) struct Job {
    /// Item names from the root: `["team", "deploy"]`.
    pub(super) names: Vec<String>,
    /// Display names from the root (a branch job shows its decoded branch name).
    pub(super) display_names: Vec<String>,
    pub(super) spec: JobSpec,
    pub(super) builds: Vec<Build>,
    pub(super) next_number: u32,
    /// Queue items already handed to `release_queue`.
    pub(super) released_items: Vec<u64>,
}

impl Job {
    pub(super) fn full_name(&self) -> String {
        self.names.join("/")
    }

    pub(super) fn name(&self) -> &str {
        self.names.last().map_or("", String::as_str)
    }

    pub(super) fn display_name(&self) -> &str {
        self.display_names.last().map_or("", String::as_str)
    }

    /// `team » deploy`.
    pub(super) fn full_display_name(&self) -> String {
        self.display_names.join(" » ")
    }

    /// Relative URL of the job, `job/team/job/deploy/`.
    pub(super) fn url(&self) -> String {
        item_url(&self.names)
    }

    pub(super) fn class(&self) -> &'static str {
        match self.spec.kind {
            JobKind::Pipeline => "org.jenkinsci.plugins.workflow.job.WorkflowJob",
            JobKind::FreeStyle => "hudson.model.FreeStyleProject",
        }
    }

    pub(super) fn build(&self, number: u32) -> Option<&Build> {
        self.builds.iter().find(|b| b.number == number)
    }

    pub(super) fn build_mut(&mut self, number: u32) -> Option<&mut Build> {
        self.builds.iter_mut().find(|b| b.number == number)
    }

    /// The build a permalink (`lastBuild`, `lastSuccessfulBuild`, …) names, if any.
    pub(super) fn permalink(&self, name: &str) -> Option<u32> {
        let newest = |pick: &dyn Fn(&Build) -> bool| {
            self.builds.iter().rev().find(|b| pick(b)).map(|b| b.number)
        };
        match name {
            "firstBuild" => self.builds.first().map(|b| b.number),
            "lastBuild" => newest(&|_| true),
            "lastCompletedBuild" => newest(&|b| !b.building()),
            "lastFailedBuild" => newest(&|b| b.ended_with(&["FAILURE"])),
            "lastStableBuild" => newest(&|b| b.ended_with(&["SUCCESS"])),
            "lastSuccessfulBuild" => newest(&|b| b.ended_with(&["SUCCESS", "UNSTABLE"])),
            "lastUnstableBuild" => newest(&|b| b.ended_with(&["UNSTABLE"])),
            "lastUnsuccessfulBuild" => newest(&|b| !b.building() && !b.ended_with(&["SUCCESS"])),
            _ => None,
        }
    }
}

/// Relative URL of an item, `job/a/job/b/`, each name `rawEncode`d.
pub(super) fn item_url(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("job/{}/", raw_encode(n)))
        .collect()
}

/// Relative URL of a build, `job/a/job/b/57/`.
pub(super) fn build_url(names: &[String], number: u32) -> String {
    format!("{}{number}/", item_url(names))
}

/// What a request path names.
#[derive(Debug, Clone, Copy)]
pub(super) enum Found<'a> {
    Folder(&'a Folder),
    Job(usize),
}

/// Folders are the same when they are the same node of the tree.
impl PartialEq for Found<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Found::Folder(a), Found::Folder(b)) => std::ptr::eq(*a, *b),
            (Found::Job(a), Found::Job(b)) => a == b,
            _ => false,
        }
    }
}

/// Follows item names from a folder.
pub(super) fn resolve<'a>(root: &'a Folder, names: &[String]) -> Option<Found<'a>> {
    let mut folder = root;
    for (i, name) in names.iter().enumerate() {
        match folder.child(name)? {
            Node::Folder(f) => folder = f,
            Node::Job(index) if i + 1 == names.len() => return Some(Found::Job(*index)),
            Node::Job(_) => return None,
        }
    }
    Some(Found::Folder(folder))
}

/// Adds a job (or updates its spec, keeping its builds) under `path` (`team/app/build`),
/// creating folders. A job name with `%` escapes (`feature%2Fx`) is a branch: its folder
/// becomes a multibranch project and its display name is the decoded branch name.
pub(super) fn add_job(
    root: &mut Folder,
    jobs: &mut Vec<Job>,
    path: &str,
    spec: JobSpec,
) -> Result<usize, String> {
    let names: Vec<String> = path.split('/').map(str::to_string).collect();
    if names.iter().any(String::is_empty) {
        return Err(format!("job path `{path}` has an empty segment"));
    }
    let (job_name, folders) = names
        .split_last()
        .ok_or_else(|| "empty job path".to_string())?;
    let branch = job_name.contains('%');
    let mut folder = root;
    for (i, name) in folders.iter().enumerate() {
        let node = folder.children.entry(name.clone()).or_insert_with(|| {
            Node::Folder(Folder {
                names: names[..=i].to_vec(),
                ..Folder::default()
            })
        });
        folder = match node {
            Node::Folder(f) => f,
            Node::Job(_) => return Err(format!("`{name}` in `{path}` is a job, not a folder")),
        };
    }
    if branch {
        folder.multibranch = true;
    }
    if let Some(node) = folder.children.get(job_name) {
        return match node {
            Node::Job(index) => {
                jobs[*index].spec = spec;
                Ok(*index)
            }
            Node::Folder(_) => Err(format!("`{path}` is a folder")),
        };
    }
    let mut display_names = folders.to_vec();
    display_names.push(if branch {
        name_decode(job_name)
    } else {
        job_name.clone()
    });
    let index = jobs.len();
    let key = job_name.clone();
    jobs.push(Job {
        names: names.clone(),
        display_names,
        spec,
        builds: Vec::new(),
        next_number: 1,
        released_items: Vec::new(),
    });
    folder.children.insert(key, Node::Job(index));
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(path: &[&str]) -> Vec<String> {
        path.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_jobs_in_folders_and_branches() {
        let mut root = Folder::default();
        let mut jobs = Vec::new();
        let deploy =
            add_job(&mut root, &mut jobs, "team/deploy", JobSpec::default()).expect("added");
        let branch = add_job(
            &mut root,
            &mut jobs,
            "org/repo/feature%2Fx",
            JobSpec::default(),
        )
        .expect("added");
        assert_eq!(
            resolve(&root, &names(&["team", "deploy"])),
            Some(Found::Job(deploy))
        );
        assert!(matches!(
            resolve(&root, &names(&["team"])),
            Some(Found::Folder(_))
        ));
        assert_eq!(resolve(&root, &names(&["team", "nope"])), None);
        // Canonical (`%252F` in the URL), decoded and encoded-again forms.
        for name in ["feature%2Fx", "feature/x", "feature%252Fx"] {
            assert_eq!(
                resolve(&root, &names(&["org", "repo", name])),
                Some(Found::Job(branch)),
                "{name}"
            );
        }
        let job = &jobs[branch];
        assert_eq!(job.url(), "job/org/job/repo/job/feature%252Fx/");
        assert_eq!(job.display_name(), "feature/x");
        assert_eq!(job.full_name(), "org/repo/feature%2Fx");
        assert_eq!(job.full_display_name(), "org » repo » feature/x");
        assert!(add_job(&mut root, &mut jobs, "team/deploy/x", JobSpec::default()).is_err());
        assert!(add_job(&mut root, &mut jobs, "a//b", JobSpec::default()).is_err());
    }
}
