//! Request bodies the REST plugin reads (reference §4 and §6): the `build` posted to the
//! queue (`teamcity-buildqueue-request.{xml,json}`) and `buildCancelRequest`
//! (`teamcity-build-cancel-request.{xml,json}`), in XML (quick-xml with serde) or JSON,
//! chosen by `Content-Type`; unknown members are ignored as Jersey ignores them.

use axum::http::{header, HeaderMap};
use serde::Deserialize;

use super::errors::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Xml,
    Json,
}

/// The body format `Content-Type` names, if it is one the REST plugin consumes.
pub(super) fn content_format(headers: &HeaderMap) -> Option<Format> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let media = value.split(';').next()?.trim().to_ascii_lowercase();
    match media.as_str() {
        "application/xml" => Some(Format::Xml),
        "application/json" => Some(Format::Json),
        _ => None,
    }
}

/// A posted build, reduced to what queuing it uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct TriggerRequest {
    pub(super) build_type: Option<String>,
    pub(super) branch: Option<String>,
    /// (name, value) as posted; a missing name is an error when queuing.
    pub(super) properties: Vec<(Option<String>, Option<String>)>,
    /// `Some(None)`: a comment element without text.
    pub(super) comment: Option<Option<String>>,
    pub(super) personal: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct CancelRequest {
    pub(super) comment: Option<String>,
    pub(super) readd_into_queue: bool,
}

#[derive(Deserialize)]
struct XmlBuild {
    #[serde(rename = "@branchName")]
    branch_name: Option<String>,
    #[serde(rename = "@buildTypeId")]
    build_type_id: Option<String>,
    #[serde(rename = "@personal")]
    personal: Option<bool>,
    #[serde(rename = "buildType")]
    build_type: Option<XmlRef>,
    comment: Option<XmlComment>,
    properties: Option<XmlProperties>,
}

#[derive(Deserialize)]
struct XmlRef {
    #[serde(rename = "@id")]
    id: Option<String>,
}

#[derive(Deserialize)]
struct XmlComment {
    text: Option<String>,
}

#[derive(Deserialize)]
struct XmlProperties {
    #[serde(default)]
    property: Vec<XmlProperty>,
}

#[derive(Deserialize)]
struct XmlProperty {
    #[serde(rename = "@name")]
    name: Option<String>,
    #[serde(rename = "@value")]
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonBuild {
    branch_name: Option<String>,
    build_type_id: Option<String>,
    personal: Option<bool>,
    build_type: Option<JsonRef>,
    comment: Option<JsonComment>,
    properties: Option<JsonProperties>,
}

#[derive(Deserialize)]
struct JsonRef {
    id: Option<String>,
}

#[derive(Deserialize)]
struct JsonComment {
    text: Option<String>,
}

#[derive(Deserialize)]
struct JsonProperties {
    property: Option<Vec<JsonProperty>>,
}

#[derive(Deserialize)]
struct JsonProperty {
    name: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct XmlCancel {
    #[serde(rename = "@comment")]
    comment: Option<String>,
    #[serde(rename = "@readdIntoQueue")]
    readd_into_queue: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonCancel {
    comment: Option<String>,
    readd_into_queue: Option<bool>,
}

fn unreadable(format: Format, e: impl std::fmt::Display) -> ApiError {
    let what = match format {
        Format::Xml => "XML",
        Format::Json => "JSON",
    };
    ApiError::bad_request(format!(
        "Could not read {what} entity from the request body: {e}"
    ))
}

pub(super) fn trigger(format: Format, body: &[u8]) -> Result<TriggerRequest, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| unreadable(format, e))?;
    match format {
        Format::Xml => {
            let b: XmlBuild = quick_xml::de::from_str(text).map_err(|e| unreadable(format, e))?;
            Ok(TriggerRequest {
                build_type: b.build_type.and_then(|r| r.id).or(b.build_type_id),
                branch: b.branch_name,
                properties: b
                    .properties
                    .map(|p| p.property.into_iter().map(|p| (p.name, p.value)).collect())
                    .unwrap_or_default(),
                comment: b.comment.map(|c| c.text),
                personal: b.personal.unwrap_or(false),
            })
        }
        Format::Json => {
            let b: JsonBuild = serde_json::from_str(text).map_err(|e| unreadable(format, e))?;
            Ok(TriggerRequest {
                build_type: b.build_type.and_then(|r| r.id).or(b.build_type_id),
                branch: b.branch_name,
                properties: b
                    .properties
                    .and_then(|p| p.property)
                    .map(|p| p.into_iter().map(|p| (p.name, p.value)).collect())
                    .unwrap_or_default(),
                comment: b.comment.map(|c| c.text),
                personal: b.personal.unwrap_or(false),
            })
        }
    }
}

/// A cancel request; an empty body cancels without a comment.
pub(super) fn cancel(format: Format, body: &[u8]) -> Result<CancelRequest, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| unreadable(format, e))?;
    if text.trim().is_empty() {
        return Ok(CancelRequest::default());
    }
    let (comment, readd) = match format {
        Format::Xml => {
            let c: XmlCancel = quick_xml::de::from_str(text).map_err(|e| unreadable(format, e))?;
            (c.comment, c.readd_into_queue)
        }
        Format::Json => {
            let c: JsonCancel = serde_json::from_str(text).map_err(|e| unreadable(format, e))?;
            (c.comment, c.readd_into_queue)
        }
    };
    Ok(CancelRequest {
        comment,
        readd_into_queue: readd.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE_XML: &str = r#"<build branchName="main">
  <buildType id="Backend_Deploy"/>
  <comment><text>Triggered by pipeline pl-42</text></comment>
  <properties>
    <property name="env.RUN_ID" value="pl-42"/>
    <property name="deploy.dryRun" value="false"/>
  </properties>
</build>"#;

    const SAMPLE_JSON: &str = r#"{"branchName":"main","buildType":{"id":"Backend_Deploy"},
        "comment":{"text":"Triggered by pipeline pl-42"},
        "properties":{"property":[{"name":"env.RUN_ID","value":"pl-42"},{"name":"deploy.dryRun","value":"false"}]},
        "personal":false,"running":false}"#;

    #[test]
    fn reads_both_sample_triggers_alike() {
        let expected = TriggerRequest {
            build_type: Some("Backend_Deploy".into()),
            branch: Some("main".into()),
            properties: vec![
                (Some("env.RUN_ID".into()), Some("pl-42".into())),
                (Some("deploy.dryRun".into()), Some("false".into())),
            ],
            comment: Some(Some("Triggered by pipeline pl-42".into())),
            personal: false,
        };
        assert_eq!(
            trigger(Format::Xml, SAMPLE_XML.as_bytes()),
            Ok(expected.clone())
        );
        assert_eq!(trigger(Format::Json, SAMPLE_JSON.as_bytes()), Ok(expected));
        let attribute = trigger(Format::Xml, br#"<build buildTypeId="X"/>"#).expect("xml");
        assert_eq!(attribute.build_type.as_deref(), Some("X"));
        assert!(trigger(Format::Json, b"{").is_err());
    }

    #[test]
    fn reads_cancel_requests() {
        let xml = br#"<buildCancelRequest comment="Superseded by pipeline pl-44" readdIntoQueue="false"/>"#;
        let json = br#"{"comment":"Superseded by pipeline pl-44","readdIntoQueue":false}"#;
        let expected = CancelRequest {
            comment: Some("Superseded by pipeline pl-44".into()),
            readd_into_queue: false,
        };
        assert_eq!(cancel(Format::Xml, xml), Ok(expected.clone()));
        assert_eq!(cancel(Format::Json, json), Ok(expected));
        assert_eq!(cancel(Format::Json, b""), Ok(CancelRequest::default()));
    }
}
