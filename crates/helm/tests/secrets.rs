//! No generated file carries a credential: receivers, Kafka and Elasticsearch credentials are
//! only ever referenced (a Secret name, a mounted file, an environment variable filled from a
//! Secret). Every line of every file is checked with the model's secret-looking-text rule, and a
//! companion test proves the check catches a planted webhook URL.

mod common;

use flotilla_helm::render;
use flotilla_model::Artifact;
use flotilla_model::checks::looks_like_secret;

fn secret_lines(files: &[Artifact]) -> Vec<String> {
    let mut found = Vec::new();
    for a in files {
        for (i, line) in a.contents.lines().enumerate() {
            // The one exception of the model's scan: an SMTP user name in the form of an AWS
            // access key id (Amazon SES's), which identifies a user and is no secret.
            let user_name = line.trim_start().starts_with("auth_username:");
            if let Some(what) = looks_like_secret(line)
                && !(user_name && what == "an AWS access key id")
            {
                found.push(format!("{}:{}: {what}: {line}", a.path, i + 1));
            }
        }
    }
    found
}

#[test]
fn no_generated_file_contains_a_secret_value() {
    for (fixture, platform) in common::fixtures() {
        let found = secret_lines(&render(&platform));
        assert!(found.is_empty(), "{fixture}:\n{}", found.join("\n"));
    }
}

#[test]
fn a_planted_secret_is_found() {
    let (_, platform) = common::fixtures().remove(0);
    let mut files = render(&platform);
    let hook = [
        "https://hooks.slack",
        ".com/services/T0000/B0000/XXXXXXXXXXXXXXXX",
    ]
    .concat();
    files[0].contents.push_str(&format!("api_url: {hook}\n"));
    let found = secret_lines(&files);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("webhook"), "{found:?}");
}

#[test]
fn receiver_credentials_are_referenced_by_file_only() {
    for (fixture, platform) in common::fixtures() {
        let am = serde_json::to_value(flotilla_helm::alertmanager_config(&platform)).unwrap();
        for r in am["receivers"].as_array().unwrap() {
            for c in r["slack_configs"].as_array().into_iter().flatten() {
                assert!(c.get("api_url").is_none(), "{fixture}: {c}");
                assert!(
                    c["api_url_file"]
                        .as_str()
                        .unwrap()
                        .starts_with("/etc/alertmanager/secrets/")
                );
            }
            for c in r["email_configs"].as_array().into_iter().flatten() {
                assert!(c.get("auth_password").is_none(), "{fixture}: {c}");
                assert!(
                    c["auth_password_file"]
                        .as_str()
                        .unwrap()
                        .starts_with("/etc/alertmanager/secrets/")
                );
            }
        }
    }
}
