//! Custom action types: their own checks, what they find wrong in actions, and masking.

use super::*;
use crate::model::action_type::{mask_pipeline, MASK};
use crate::model::{ActionType, ConfigValue};

fn shipper() -> ActionType {
    serde_yaml::from_str(
        "category: Deploy\nprovider: Shipper\nversion: '1'\nconfigurationProperties:\n  - {name: Environment, required: true}\n  - {name: ApiKey, secret: true}\ninputArtifactDetails: {minimumCount: 1, maximumCount: 1}\n",
    )
    .unwrap()
}

fn with_shipper() -> Catalog {
    let mut catalog = catalog();
    let shipper = shipper();
    catalog.action_types.insert(shipper.key(), shipper);
    catalog
}

const PIPELINE: &str = "\
name: p
stages:
  - name: Source
    actions:
      - {name: S, provider: Git, configuration: {RepositoryUrl: 'file:///r', BranchName: main}, outputArtifacts: [Code]}
  - name: Deploy
    actions:
      - name: Ship
        actionTypeId: {category: Deploy, owner: Custom, provider: Shipper, version: '1'}
        inputArtifacts: [Code]
        configuration: {Environment: prod, ApiKey: hunter2}
";

#[test]
fn a_declaration_with_problems_names_each() {
    let mut bad = shipper();
    bad.category = crate::model::Category::Approval;
    bad.configuration_properties
        .push(bad.configuration_properties[0].clone());
    bad.output_artifact_details.minimum_count = 4;
    bad.output_artifact_details.maximum_count = 2;
    let problems = bad.check().unwrap_err();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(shipper().check().is_ok());
}

#[test]
fn actions_are_checked_against_their_type_and_secrets_masked() {
    let loaded = load("p.yaml", PIPELINE, &with_shipper()).unwrap();
    let mut pipeline = loaded.pipeline;
    mask_pipeline(&mut pipeline, &with_shipper());
    let configuration = &pipeline.stages[1].actions[0].configuration;
    assert_eq!(configuration["ApiKey"], ConfigValue::Text(MASK.into()));
    assert_eq!(
        configuration["Environment"],
        ConfigValue::Text("prod".into())
    );

    let without_input = PIPELINE.replace("        inputArtifacts: [Code]\n", "");
    let errors = load("p.yaml", &without_input, &with_shipper()).unwrap_err();
    assert_eq!(
        errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["p.yaml:9:67: Deploy.Ship: action type Deploy/Shipper/1 takes 1 to 1 input artifacts, found 0"]
    );
    // Unregistered, the same action names no executor.
    assert!(load("p.yaml", PIPELINE, &catalog()).is_err());
}
