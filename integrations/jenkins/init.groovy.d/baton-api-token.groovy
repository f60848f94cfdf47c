// Gives the Jenkins user `baton` the API token in BATON_JENKINS_API_TOKEN, so the token Baton
// uses (JENKINS_TOKEN) is known before Jenkins starts. Configuration as code cannot set API
// tokens; Jenkins runs the scripts in $JENKINS_HOME/init.groovy.d at every start, after it.
// The token is added once and kept; revoke it under the user's Security page.
//
// The value must look like a token Jenkins makes: "11" followed by 32 lowercase hex digits.

import hudson.model.User
import jenkins.security.ApiTokenProperty

String userId = System.getenv('BATON_JENKINS_USER') ?: 'baton'
String value = System.getenv('BATON_JENKINS_API_TOKEN')?.trim()

if (!value) {
    println("baton-api-token: BATON_JENKINS_API_TOKEN is not set; create the token of ${userId} in the web UI")
    return
}
if (!(value ==~ /11[0-9a-f]{32}/)) {
    println('baton-api-token: BATON_JENKINS_API_TOKEN must be "11" followed by 32 lowercase hex digits; no token added')
    return
}

User user = User.getById(userId, true)
ApiTokenProperty property = user.getProperty(ApiTokenProperty)
if (property == null) {
    property = new ApiTokenProperty()
    user.addProperty(property)
}
def store = property.tokenStore
if (store.findMatchingToken(value) != null) {
    return
}
try {
    store.addFixedNewToken('baton', value)
} catch (MissingMethodException ignored) {
    // Newer Jenkins versions take an expiry date as well; none here.
    store.addFixedNewToken('baton', value, null)
}
user.save()
println("baton-api-token: API token 'baton' added to ${userId}")
