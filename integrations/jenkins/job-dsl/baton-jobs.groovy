// Job DSL: the demo jobs that integrations/compose/pipelines/demo.yaml triggers.
// The seed job `baton-seed` (casc.yaml) runs this file; any Job DSL seed job can.
//
// Every job Baton triggers should have:
//  - the string parameter BATON_ACTION_RUN: Baton fills it with its action-run id, and finds
//    the build by it after a restart instead of ever triggering a second one;
//  - a Job Notifications endpoint (Notification plugin) that tells Baton when the build
//    starts and ends. Its URL, {public_url}/hooks/jenkins/{server}?token=SECRET, comes from
//    the secret-text credential named below, so the secret stays out of the job's config.
//
// Build variables of the seed job, all optional:
//   BATON_CALLBACK_CREDENTIALS  credential id of the callback URL (default baton-callback-url)

String callbackCredentials = binding.hasVariable('BATON_CALLBACK_CREDENTIALS') \
    ? binding.getVariable('BATON_CALLBACK_CREDENTIALS') : 'baton-callback-url'

// The Notification plugin's job property, as it appears in config.xml. Every field is
// written out: a missing <branch> would filter out every build.
Closure notifyBaton = { project ->
    project / 'properties' << 'com.tikal.hudson.plugins.notification.HudsonNotificationProperty' {
        endpoints {
            'com.tikal.hudson.plugins.notification.Endpoint' {
                protocol('HTTP')
                format('JSON')
                urlInfo {
                    urlOrId(callbackCredentials)
                    urlType('SECRET')   // PUBLIC to put the URL itself in urlOrId
                }
                event('all')
                timeout(30000)
                loglines(0)
                retries(2)
                branch('.*')
            }
        }
    }
}

String actionRunHelp = 'Set by Baton: the action run that triggered this build. Leave empty when you run the job by hand.'

folder('demo') {
    displayName('Demo')
    description('Jobs triggered by the Baton demo pipeline (integrations/compose/pipelines/demo.yaml).')
}

pipelineJob('demo/build') {
    description('Builds a commit. Baton: stage Build, action Compile.')
    parameters {
        stringParam('BATON_ACTION_RUN', '', actionRunHelp)
        stringParam('COMMIT', '', 'The commit to build.')
    }
    definition {
        cps {
            sandbox(true)
            script('''\
                pipeline {
                    agent any
                    stages {
                        stage('Build') {
                            steps {
                                echo "Building commit ${params.COMMIT}"
                                sh 'sleep 5'
                                writeFile file: 'version.txt', text: "1.0.${env.BUILD_NUMBER}\\n"
                                archiveArtifacts artifacts: 'version.txt'
                            }
                        }
                    }
                }
                '''.stripIndent())
        }
    }
    configure notifyBaton
}

pipelineJob('demo/integration-tests') {
    description('Runs the integration tests. Baton: stage Test, action IntegrationTests.')
    parameters {
        stringParam('BATON_ACTION_RUN', '', actionRunHelp)
    }
    definition {
        cps {
            sandbox(true)
            script('''\
                pipeline {
                    agent any
                    stages {
                        stage('Integration tests') {
                            steps {
                                echo 'Running the integration tests'
                                sh 'sleep 10'
                            }
                        }
                    }
                }
                '''.stripIndent())
        }
    }
    configure notifyBaton
}

pipelineJob('demo/deploy') {
    description('Deploys a version to an environment. Baton: stage Deploy, action Production.')
    parameters {
        stringParam('BATON_ACTION_RUN', '', actionRunHelp)
        stringParam('ENV', 'staging', 'Where to deploy.')
        stringParam('VERSION', '', 'What to deploy: the build number of demo/build.')
    }
    definition {
        cps {
            sandbox(true)
            script('''\
                pipeline {
                    agent any
                    stages {
                        stage('Deploy') {
                            steps {
                                echo "Deploying build ${params.VERSION} to ${params.ENV}"
                                sh 'sleep 5'
                            }
                        }
                    }
                }
                '''.stripIndent())
        }
    }
    configure notifyBaton
}
