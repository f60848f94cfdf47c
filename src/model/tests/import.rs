//! `aws codepipeline get-pipeline` output accepted as is: AWS-only fields become notes,
//! git sources and server-named Custom actions and Manual approvals load, JSON-encoded
//! Parameters become maps, and AWS-only providers get an error that says what to do.

use std::collections::BTreeMap;

use super::{check, check_notes, loaded};
use crate::model::{Category, ConfigValue, ExecutionMode, Owner};

/// What `aws codepipeline get-pipeline --name shop` prints for a V2 pipeline with a GitHub
/// connection source, the CodePipeline Jenkins plugin's Custom action, a manual approval
/// and a CodeBuild test action.
const GET_PIPELINE: &str = r##"{
    "pipeline": {
        "name": "shop",
        "roleArn": "arn:aws:iam::123456789012:role/service-role/AWSCodePipelineServiceRole-shop",
        "artifactStore": {
            "type": "S3",
            "location": "codepipeline-eu-west-1-123456789012"
        },
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "Source",
                        "actionTypeId": {
                            "category": "Source",
                            "owner": "AWS",
                            "provider": "CodeStarSourceConnection",
                            "version": "1"
                        },
                        "runOrder": 1,
                        "configuration": {
                            "BranchName": "main",
                            "ConnectionArn": "arn:aws:codestar-connections:eu-west-1:123456789012:connection/0f6b9a2e-1c1d-4b8e-9a43-5a1c0c8d7e21",
                            "FullRepositoryId": "example/shop",
                            "OutputArtifactFormat": "CODE_ZIP"
                        },
                        "outputArtifacts": [
                            {
                                "name": "SourceArtifact"
                            }
                        ],
                        "inputArtifacts": [],
                        "region": "eu-west-1",
                        "namespace": "SourceVariables"
                    }
                ]
            },
            {
                "name": "Build",
                "actions": [
                    {
                        "name": "Jenkins",
                        "actionTypeId": {
                            "category": "Build",
                            "owner": "Custom",
                            "provider": "jenkins-main",
                            "version": "1"
                        },
                        "runOrder": 1,
                        "configuration": {
                            "ProjectName": "shop-build",
                            "Parameters": "{\"COMMIT\": \"#{SourceVariables.CommitId}\", \"RETRIES\": 2}"
                        },
                        "outputArtifacts": [
                            {
                                "name": "BuildArtifact"
                            }
                        ],
                        "inputArtifacts": [
                            {
                                "name": "SourceArtifact"
                            }
                        ],
                        "region": "eu-west-1"
                    }
                ]
            },
            {
                "name": "Approve",
                "actions": [
                    {
                        "name": "Approval",
                        "actionTypeId": {
                            "category": "Approval",
                            "owner": "AWS",
                            "provider": "Manual",
                            "version": "1"
                        },
                        "runOrder": 1,
                        "configuration": {
                            "CustomData": "Ship #{SourceVariables.CommitId}?"
                        },
                        "outputArtifacts": [],
                        "inputArtifacts": [],
                        "region": "eu-west-1"
                    }
                ]
            },
            {
                "name": "Test",
                "actions": [
                    {
                        "name": "UnitTests",
                        "actionTypeId": {
                            "category": "Test",
                            "owner": "AWS",
                            "provider": "CodeBuild",
                            "version": "1"
                        },
                        "runOrder": 1,
                        "configuration": {
                            "ProjectName": "shop-tests"
                        },
                        "outputArtifacts": [],
                        "inputArtifacts": [
                            {
                                "name": "BuildArtifact"
                            }
                        ],
                        "region": "eu-west-1"
                    }
                ]
            }
        ],
        "version": 3,
        "executionMode": "QUEUED",
        "pipelineType": "V2"
    },
    "metadata": {
        "pipelineArn": "arn:aws:codepipeline:eu-west-1:123456789012:shop",
        "created": "2024-03-11T09:12:44.123000+00:00",
        "updated": "2024-11-02T16:40:05.870000+00:00"
    }
}"##;

#[test]
fn a_codebuild_action_is_the_only_error_and_says_what_to_use_instead() {
    check(
        GET_PIPELINE,
        &[
            "98:41: provider `CodeBuild` runs only inside AWS; point this action at a Jenkins or \
           TeamCity server instead (provider: Jenkins or TeamCity, with configuration.Server)",
        ],
    );
}

/// The same document with the test stage pointed at TeamCity.
fn fixed() -> String {
    GET_PIPELINE.replace(
        r#""owner": "AWS",
                            "provider": "CodeBuild","#,
        r#""owner": "Custom",
                            "provider": "teamcity-main","#,
    )
}

#[test]
fn pointed_at_a_server_it_loads_with_notes_for_every_aws_only_field() {
    let text = fixed();
    check_notes(
        &text,
        &[
            "4:9: `roleArn` is AWS-only; ignored",
            "5:9: `artifactStore` is AWS-only; ignored (Baton passes artifacts by name)",
            "34:25: `region` is AWS-only; ignored",
            "65:25: `region` is AWS-only; ignored",
            "86:25: `region` is AWS-only; ignored",
            "111:25: `region` is AWS-only; ignored",
            "116:9: `version` is AWS-only; ignored (Baton numbers versions itself)",
            "118:9: `pipelineType` is AWS-only; ignored",
            "120:5: `metadata` (pipeline ARN and timestamps from get-pipeline) is ignored",
        ],
    );
}

#[test]
fn imported_actions_keep_their_codepipeline_types() {
    let pipeline = loaded(&fixed()).pipeline;
    assert_eq!(pipeline.name, "shop");
    assert_eq!(pipeline.execution_mode, ExecutionMode::Queued);
    let source = &pipeline.stages[0].actions[0];
    assert_eq!(source.action_type_id.provider, "CodeStarSourceConnection");
    assert_eq!(source.action_type_id.owner, Owner::Aws);
    assert_eq!(source.namespace.as_deref(), Some("SourceVariables"));

    let jenkins = &pipeline.stages[1].actions[0];
    assert_eq!(jenkins.action_type_id.owner, Owner::Custom);
    assert_eq!(jenkins.config_text("ProjectName"), Some("shop-build"));
    let parameters: BTreeMap<String, String> =
        [("COMMIT", "#{SourceVariables.CommitId}"), ("RETRIES", "2")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(
        jenkins.configuration["Parameters"],
        ConfigValue::Map(parameters)
    );

    let approval = &pipeline.stages[2].actions[0];
    assert!(approval.is_manual_approval());
    assert_eq!(approval.action_type_id.category, Category::Approval);
}

#[test]
fn references_inside_json_encoded_parameters_are_checked() {
    let text = fixed().replace(
        "#{SourceVariables.CommitId}\\\", \\\"RETRIES",
        "#{Later.CommitId}\\\", \\\"RETRIES",
    );
    check(
        &text,
        &["53:43: `#{Later.CommitId}` refers to namespace `Later`, which no action declares"],
    );
}

#[test]
fn a_git_source_without_a_configured_connection_is_reported() {
    let text = fixed().replace("0f6b9a2e-1c1d-4b8e-9a43-5a1c0c8d7e21", "unknown");
    check(
        &text,
        &["18:41: no git connection `arn:aws:codestar-connections:eu-west-1:123456789012:connection/unknown` in the daemon config (git.connections maps it to a base URL)"],
    );
}

#[test]
fn a_wrapper_with_unknown_fields_is_reported() {
    check(
        "{\"pipeline\": {\"name\": \"p\", \"stages\": []}, \"extra\": 1}",
        &[
            "1:38: a pipeline has 2 to 50 stages, found 0",
            "1:43: unknown field `extra` in get-pipeline output; expected one of: pipeline",
        ],
    );
}
