//! The rules across a pipeline, each with the exact position it is reported at, and
//! several problems reported in one load.

use super::{check, errors, loaded};

#[test]
fn the_first_stage_holds_only_sources_and_no_other_stage_holds_any() {
    check(
        "\
name: p
stages:
  - name: Source
    actions:
      - {name: S, provider: Git, configuration: {RepositoryUrl: u, BranchName: b}}
      - {name: Early, provider: Jenkins}
  - name: Build
    actions:
      - name: Late
        actionTypeId: {category: Source, owner: ThirdParty, provider: Git, version: '1'}
        configuration: {RepositoryUrl: u, BranchName: b}
",
        &[
            "6:33: the first stage may only hold Source actions; `Early` is a Build action",
            "10:34: only the first stage may hold Source actions; `Late` is in stage `Build`",
        ],
    );
}

#[test]
fn stage_names_are_unique_and_action_names_unique_per_stage() {
    check(
        "\
name: p
stages:
  - name: Source
    actions:
      - {name: S, provider: Git, configuration: {RepositoryUrl: u, BranchName: b}}
  - name: Build
    actions:
      - {name: S, provider: Jenkins}
      - {name: B, provider: Jenkins}
      - {name: B, provider: Jenkins, runOrder: 2}
  - name: Build
    actions:
      - {name: B, provider: Jenkins}
",
        &[
            "10:16: duplicate action name `B` in stage `Build` (first at line 9)",
            "11:11: duplicate stage name `Build` (first at line 6)",
        ],
    );
}

#[test]
fn input_artifacts_come_from_actions_that_run_earlier() {
    check(
        "\
name: p
stages:
  - name: Source
    actions:
      - {name: S, provider: Git, configuration: {RepositoryUrl: u, BranchName: b}, outputArtifacts: [Src]}
  - name: Build
    actions:
      - {name: A, provider: Jenkins, inputArtifacts: [Src, Missing, FromB], outputArtifacts: [FromA]}
      - {name: B, provider: Jenkins, inputArtifacts: [FromA, FromC], outputArtifacts: [FromB]}
      - {name: C, provider: Jenkins, runOrder: 2, inputArtifacts: [FromA, FromB], outputArtifacts: [FromC]}
",
        &[
            "8:60: input artifact `Missing` is not an output artifact of any action",
            "8:69: input artifact `FromB` comes from `Build.B`, which does not run before this action (an earlier stage, or a lower runOrder in this stage)",
            "9:55: input artifact `FromA` comes from `Build.A`, which does not run before this action (an earlier stage, or a lower runOrder in this stage)",
            "9:62: input artifact `FromC` comes from `Build.C`, which does not run before this action (an earlier stage, or a lower runOrder in this stage)",
        ],
    );
}

#[test]
fn output_artifact_names_are_unique_in_the_pipeline() {
    check(
        "\
name: p
stages:
  - name: Source
    actions:
      - name: S
        provider: Git
        configuration: {RepositoryUrl: u, BranchName: b}
        outputArtifacts:
          - name: Out
  - name: Build
    actions:
      - name: B
        provider: Jenkins
        outputArtifacts:
          - name: Out
",
        &["15:19: output artifact `Out` is already produced by `Source.S`"],
    );
}

#[test]
fn namespaces_are_unique_not_reserved_and_not_artifact_names() {
    check(
        "\
name: p
stages:
  - name: Source
    actions:
      - {name: S, provider: Git, namespace: Src, outputArtifacts: [Code], configuration: {RepositoryUrl: u, BranchName: b}}
  - name: Build
    actions:
      - {name: A, provider: Jenkins, namespace: Src}
      - {name: B, provider: Jenkins, namespace: variables}
      - {name: C, provider: Jenkins, namespace: Code}
",
        &[
            "8:49: namespace `Src` is already used by `Source.S`",
            "9:49: namespace `variables` is reserved",
            "10:49: namespace `Code` is also an artifact name; rename one of them",
        ],
    );
}

#[test]
fn variable_references_name_declared_variables_and_earlier_namespaces() {
    check(
        "\
name: p
variables:
  - name: Env
  - name: Env
stages:
  - name: Source
    actions:
      - name: S
        provider: Git
        namespace: SourceVariables
        configuration:
          RepositoryUrl: u
          BranchName: '#{variables.Branch}'
  - name: Build
    actions:
      - name: A
        provider: Jenkins
        namespace: AVars
        configuration:
          ProjectName: 'job-#{variables.Env}-#{codepipeline.PipelineExecutionId}'
          Note: '#{codepipeline.PipelineName} #{SourceVariables.CommitId}'
          Parameters:
            X: '#{BVars.Out}'
            Y: '#{AVars.Out}'
            Z: '#{Nobody.Out} #{broken} #{SourceVariables.CommitId'
      - name: B
        provider: Jenkins
        namespace: BVars
        runOrder: 2
        configuration:
          ProjectName: '#{AVars.Out}'
",
        &[
            "4:11: duplicate variable name `Env` (first at line 3)",
            "13:23: `#{variables.Branch}` names no pipeline variable; declare it under `variables`",
            "21:17: `#{codepipeline.PipelineName}` is not available; the `codepipeline` namespace has only PipelineExecutionId",
            "23:16: `#{BVars.Out}` refers to namespace `BVars` of `Build.B`, which does not run before this action",
            "24:16: `#{AVars.Out}` refers to namespace `AVars` of `Build.A`, which does not run before this action",
            "25:16: `#{Nobody.Out}` refers to namespace `Nobody`, which no action declares",
            "25:16: malformed variable reference `#{broken}`; expected #{namespace.name}",
            "25:16: malformed variable reference `#{SourceVariables.CommitId`; expected #{namespace.name}",
        ],
    );
}

#[test]
fn unknown_providers_servers_and_aws_only_providers_are_reported_at_the_provider() {
    check(
        "\
name: p
stages:
  - name: Source
    actions:
      - {name: S, provider: Git, configuration: {BranchName: b}}
  - name: Build
    actions:
      - {name: A, provider: Jenkins, configuration: {Server: jenkins-backup}}
      - {name: B, provider: TeamCity, configuration: {Server: jenkins-main}}
      - {name: C, provider: Bamboo}
      - name: D
        actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: '1'}
",
        &[
            "5:29: Git source needs configuration.RepositoryUrl",
            "8:29: unknown Jenkins server `jenkins-backup`; the daemon config has jenkins-main",
            "9:29: server `jenkins-main` is a Jenkins server, not TeamCity",
            "10:29: unknown provider `Bamboo`; use Git, Manual, Jenkins or TeamCity, a Custom action named after a configured server (jenkins-main, teamcity-main), or a registered custom action type",
            "12:63: provider `CodeBuild` runs only inside AWS; point this action at a Jenkins or TeamCity server instead (provider: Jenkins or TeamCity, with configuration.Server)",
        ],
    );
}

#[test]
fn a_server_is_named_from_the_daemon_config_never_given_as_a_url() {
    check(
        "\
name: p
variables: [{name: Where, defaultValue: jenkins-main}]
stages:
  - name: Source
    actions:
      - {name: S, provider: Git, configuration: {RepositoryUrl: u, BranchName: b}}
  - name: Build
    actions:
      - {name: A, provider: Jenkins, configuration: {Server: 'http://169.254.169.254/latest'}}
      - {name: B, provider: TeamCity, configuration: {Server: 'https://tc.evil.example'}}
      - {name: C, provider: Jenkins, configuration: {Server: '#{variables.Where}'}}
      - name: D
        actionTypeId: {category: Build, owner: Custom, provider: 'http://jenkins.evil.example', version: '1'}
",
        &[
            "9:29: configuration.Server `http://169.254.169.254/latest` is a URL; name a Jenkins server of the daemon config instead (jenkins-main)",
            "10:29: configuration.Server `https://tc.evil.example` is a URL; name a TeamCity server of the daemon config instead (teamcity-main)",
            "11:29: unknown Jenkins server `#{variables.Where}`; the daemon config has jenkins-main",
            "13:66: provider `http://jenkins.evil.example` may only hold characters in [A-Za-z0-9_-], found ':'",
        ],
    );
}

#[test]
fn several_problems_of_different_kinds_are_reported_together_in_order() {
    let found = errors(
        "\
name: p
stages:
  - name: Build
    actions:
      - {name: B, provider: Jenkins, inputArtifacts: [Nothing], runOrder: 0}
  - name: Build
    actions:
      - {name: S, provider: Git, configuration: {RepositoryUrl: u, BranchName: b}, bogus: 1}
",
    );
    assert_eq!(
        found,
        vec![
            "5:29: the first stage may only hold Source actions; `B` is a Build action",
            "5:55: input artifact `Nothing` is not an output artifact of any action",
            "5:75: `runOrder` must be between 1 and 999, found 0",
            "6:11: duplicate stage name `Build` (first at line 3)",
            "8:29: only the first stage may hold Source actions; `S` is in stage `Build`",
            "8:84: unknown field `bogus` in action; expected one of: name, actionTypeId, provider, category, owner, version, runOrder, configuration, inputArtifacts, outputArtifacts, namespace, timeoutInMinutes",
        ]
    );
}

#[test]
fn parallel_actions_and_later_stages_may_use_earlier_outputs() {
    let pipeline = loaded(
        "\
name: p
stages:
  - name: Source
    actions:
      - {name: S, provider: Git, namespace: Src, outputArtifacts: [Code], configuration: {RepositoryUrl: u, BranchName: b}}
  - name: Build
    actions:
      - {name: A, provider: Jenkins, namespace: A, inputArtifacts: [Code], outputArtifacts: [Bin]}
      - {name: B, provider: Jenkins, inputArtifacts: [Code], configuration: {ProjectName: '#{Src.CommitId}'}}
      - {name: C, provider: Jenkins, runOrder: 2, inputArtifacts: [Bin], configuration: {ProjectName: '#{A.Out}'}}
",
    )
    .pipeline;
    assert_eq!(pipeline.stages[1].actions[2].run_order, 2);
}
