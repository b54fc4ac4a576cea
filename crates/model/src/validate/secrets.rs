//! The credential scan of every key and string value of the platform file.

use std::ops::Range;

use toml::Spanned;

use super::Cx;
use crate::names;

/// Credentials must never be in the platform file: scan every string value and every key.
///
/// One exception: an SMTP user name may have the form of an AWS access key id, since that is
/// what Amazon SES's SMTP user names are; it identifies a user, and its password stays in
/// Secrets Manager.
pub(super) fn scan_for_secrets(source: &str, cx: &mut Cx) {
    let Ok(doc) = toml::de::DeTable::parse(source) else {
        return;
    };
    fn report(span: Range<usize>, what: &str, cx: &mut Cx) {
        cx.err_help(
            span,
            format!("this looks like {what}; credentials must not be written in the platform file"),
            "store it in AWS Secrets Manager and name the secret (e.g. credentials_secret = \"flotilla/alerting/slack-webhook\")",
        );
    }
    fn walk(key: Option<&str>, v: &Spanned<toml::de::DeValue<'_>>, cx: &mut Cx) {
        use toml::de::DeValue;
        match v.get_ref() {
            DeValue::String(s) => {
                let found = names::looks_like_secret(s);
                let user_name = key == Some("smtp_username");
                if let Some(what) = found
                    && !(user_name && what == "an AWS access key id")
                {
                    report(v.span(), what, cx);
                }
            }
            DeValue::Array(a) => a.iter().for_each(|x| walk(key, x, cx)),
            DeValue::Table(t) => {
                for (k, x) in t.iter() {
                    if let Some(what) = names::looks_like_secret(k.get_ref()) {
                        report(k.span(), what, cx);
                    }
                    walk(Some(k.get_ref()), x, cx);
                }
            }
            _ => {}
        }
    }
    for (k, v) in doc.get_ref().iter() {
        if let Some(what) = names::looks_like_secret(k.get_ref()) {
            report(k.span(), what, cx);
        }
        walk(Some(k.get_ref()), v, cx);
    }
}
