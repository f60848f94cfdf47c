//! Build artifacts (`/app/rest/builds/{locator}/artifacts/…`, reference §8): the folder
//! tree made from a build type's `(path, content)` pairs, listed as `files`/`file` beans
//! (`teamcity-artifacts-children.xml`), served as bytes, and described by `metadata`.
//! As in TeamCity, artifacts are published when a build finishes, and never for a build
//! that was stopped.

use std::collections::BTreeMap;

use super::build::{Build, Phase};
use super::errors::ApiError;
use super::node::{Entity, Kind, Value};
use super::state::State;

/// An entry directly inside a folder.
enum Entry {
    File { size: usize },
    Dir,
}

/// The artifacts a build has published: path → content.
fn published(b: &Build) -> BTreeMap<&str, &str> {
    if b.phase != Phase::Finished || !b.ran() || b.canceled.is_some() {
        return BTreeMap::new();
    }
    b.plan
        .spec
        .artifacts
        .iter()
        .map(|(path, content)| (path.trim_matches('/'), content.as_str()))
        .collect()
}

/// The entries directly inside folder `dir` (`""`: the root); None if no such folder.
fn list(b: &Build, dir: &str) -> Option<BTreeMap<String, Entry>> {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let mut entries = BTreeMap::new();
    for (path, content) in published(b) {
        let Some(rest) = path.strip_prefix(prefix.as_str()) else {
            continue;
        };
        match rest.split_once('/') {
            Some((folder, _)) => {
                entries.insert(folder.to_string(), Entry::Dir);
            }
            None if !rest.is_empty() => {
                entries.insert(
                    rest.to_string(),
                    Entry::File {
                        size: content.len(),
                    },
                );
            }
            None => {}
        }
    }
    (dir.is_empty() || !entries.is_empty()).then_some(entries)
}

/// How many entries the root holds (the build's `artifacts.count`).
pub(super) fn top_level_count(b: &Build) -> usize {
    list(b, "").map_or(0, |entries| entries.len())
}

fn not_found(b: &Build, path: &str) -> ApiError {
    ApiError::not_found(format!(
        "No artifact with relative path '{path}' found in build {} #{} {{build id={}}}",
        b.build_type,
        b.number.as_deref().unwrap_or("N/A"),
        b.id
    ))
}

fn file_entity(s: &State, b: &Build, path: &str, name: &str, entry: &Entry) -> Entity {
    let base = format!("/app/rest/builds/id:{}/artifacts", b.id);
    let modified = b.finished_at.map(|at| s.date(at)).unwrap_or_default();
    let mut entity = Entity::new().attr("name", Value::Str(name.to_string()));
    if let Entry::File { size } = entry {
        entity = entity.attr("size", Value::Int(*size as i64));
    }
    entity = entity
        .attr("modificationTime", Value::Str(modified))
        .attr("href", Value::Str(format!("{base}/metadata/{path}")));
    let (link, kind) = match entry {
        Entry::File { .. } => ("content", "content"),
        Entry::Dir => ("children", "children"),
    };
    let link_entity = Entity::new().attr("href", Value::Str(format!("{base}/{kind}/{path}")));
    entity.elem(link, Value::Entity(link_entity))
}

/// The `files` listing of folder `dir`.
pub(super) fn children(s: &State, b: &Build, dir: &str) -> Result<Entity, ApiError> {
    let dir = dir.trim_matches('/');
    let entries = list(b, dir).ok_or_else(|| not_found(b, dir))?;
    let items: Vec<Entity> = entries
        .iter()
        .map(|(name, entry)| {
            let path = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            file_entity(s, b, &path, name, entry)
        })
        .collect();
    // Listed files are long beans, so their `content`/`children` links carry an href
    // (as `teamcity-artifacts-children.xml` shows) instead of an empty element.
    Ok(Entity::new()
        .attr("count", Value::Int(items.len() as i64))
        .field(
            "file",
            Kind::Elem,
            Value::List(items),
            Some(true),
            Some(true),
            false,
        )
        .nested_long())
}

/// The `file` bean of one file or folder.
pub(super) fn metadata(s: &State, b: &Build, path: &str) -> Result<Entity, ApiError> {
    let path = path.trim_matches('/');
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let entries = list(b, dir).ok_or_else(|| not_found(b, path))?;
    let entry = entries.get(name).ok_or_else(|| not_found(b, path))?;
    Ok(file_entity(s, b, path, name, entry))
}

/// A file's bytes.
pub(super) fn content(b: &Build, path: &str) -> Result<String, ApiError> {
    let path = path.trim_matches('/');
    published(b)
        .get(path)
        .map(|content| content.to_string())
        .ok_or_else(|| not_found(b, path))
}
