//! End-to-end tests: the real `baton` binary, driven through its HTTP API and its CLI,
//! against local git repositories and the scripted, Jenkins and TeamCity simulators.

mod helpers;

mod auth;
mod control;
mod crash;
mod flows;
mod hostile;
mod jenkins;
mod modes;
mod notifications;
mod replay;
mod secrets;
mod teamcity;
mod timeouts;
mod triggers;
mod validation;
mod workers;
