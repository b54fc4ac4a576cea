//! Pure checks on single values: names, addresses, quantities, ARNs and secret-looking text.
//!
//! Each returns `Err(help)` with a sentence that tells the user what a valid value looks like.

use ipnet::Ipv4Net;

/// Levenshtein distance between two names, for "did you mean" (the loader's keys and names,
/// the command line's environment names).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A DNS-1123 label: lowercase letters, digits and `-`, starting with a letter, ending with a
/// letter or digit, at most `max` characters (63 for Kubernetes names).
pub fn dns_label(s: &str, max: usize) -> Result<(), String> {
    // Say which rule the name breaks: "not valid" alone sends the user hunting.
    let help = |why: String| {
        format!(
            "a DNS-1123 label has lowercase letters, digits and '-', starts with a letter, ends with a letter or digit and has at most {max} characters; {why}"
        )
    };
    let chars: Vec<char> = s.chars().collect();
    let (Some(first), Some(last)) = (chars.first(), chars.last()) else {
        return Err(help("this one is empty".into()));
    };
    let mut bad: Vec<String> = Vec::new();
    for c in &chars {
        // A letter from another script can look like an ASCII one (Cyrillic 'а'): name it.
        let shown = if c.is_ascii() {
            format!("'{c}'")
        } else {
            format!("'{c}' (U+{:04X}, not ASCII)", *c as u32)
        };
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || bad.contains(&shown)) {
            bad.push(shown);
        }
    }
    if !bad.is_empty() {
        return Err(help(format!("this one has {}", bad.join(", "))));
    }
    if chars.len() > max {
        return Err(help(format!("this one has {} characters", chars.len())));
    }
    if !first.is_ascii_lowercase() {
        return Err(help(format!("this one starts with '{first}'")));
    }
    if !(last.is_ascii_lowercase() || last.is_ascii_digit()) {
        return Err(help(format!("this one ends with '{last}'")));
    }
    Ok(())
}

/// A DNS name: dot-separated DNS-1123 labels (digits may start a label), at most 253 characters.
pub fn dns_name(s: &str) -> Result<(), String> {
    let help =
        "use dot-separated labels of lowercase letters, digits and '-', e.g. \"example.com\"";
    if s.is_empty() || s.len() > 253 || !s.contains('.') {
        return Err(help.into());
    }
    for label in s.split('.') {
        let b = label.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 63
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-';
        if !ok {
            return Err(help.into());
        }
    }
    Ok(())
}

/// A hostname prefix: one or more DNS labels (no trailing dot).
pub fn host_prefix(s: &str) -> Result<(), String> {
    let help =
        "use one or more dot-separated labels of lowercase letters, digits and '-', e.g. \"api\"";
    if s.is_empty() {
        return Err(help.into());
    }
    for label in s.split('.') {
        let b = label.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 63
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-';
        if !ok {
            return Err(help.into());
        }
    }
    Ok(())
}

/// An IPv4 network in CIDR notation with no host bits set.
pub fn cidr(s: &str) -> Result<Ipv4Net, String> {
    let net: Ipv4Net = s
        .parse()
        .map_err(|_| "write an IPv4 network in CIDR notation, e.g. \"10.10.0.0/16\"".to_string())?;
    if net.trunc() != net {
        return Err(format!("host bits are set; the network is {}", net.trunc()));
    }
    Ok(net)
}

/// Whether two networks share any address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// An EC2 instance type: `family.size`, e.g. `m6i.large`, `c7g.2xlarge`, `u-6tb1.metal`.
pub fn instance_type(s: &str) -> Result<(), String> {
    let help = "write an EC2 instance type such as \"m6i.large\" or \"c7g.2xlarge\"";
    let Some((family, size)) = s.split_once('.') else {
        return Err(help.into());
    };
    let fam_ok = family.len() >= 2
        && family.as_bytes()[0].is_ascii_lowercase()
        && family.bytes().any(|b| b.is_ascii_digit())
        && family
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let size_ok = !size.is_empty()
        && size
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && size.bytes().any(|b| b.is_ascii_lowercase());
    if fam_ok && size_ok {
        Ok(())
    } else {
        Err(help.into())
    }
}

/// An AWS region such as `eu-west-1` or `us-gov-west-1`.
pub fn region(s: &str) -> Result<(), String> {
    let help = "write an AWS region such as \"eu-west-1\"";
    let parts: Vec<&str> = s.split('-').collect();
    let ok = (3..=4).contains(&parts.len())
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok();
    if ok { Ok(()) } else { Err(help.into()) }
}

/// A 12-digit AWS account id.
pub fn account_id(s: &str) -> Result<(), String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err("an AWS account id is exactly 12 digits, written as a string".into())
    }
}

/// A VPC security group id: `sg-` and 8 or 17 hexadecimal digits.
pub fn security_group_id(s: &str) -> Result<(), String> {
    match s.strip_prefix("sg-") {
        Some(hex)
            if (hex.len() == 8 || hex.len() == 17)
                && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(())
        }
        _ => Err("a security group id is `sg-` and 8 or 17 lowercase hexadecimal digits, e.g. \"sg-0123456789abcdef0\"".into()),
    }
}

/// An IAM ARN of a role or group: `arn:aws:iam::<account>:role/<path/name>`.
/// Returns the kind (`role` or `group`) and the name.
pub fn iam_arn(s: &str) -> Result<(String, String), String> {
    let help = "write an IAM ARN such as \"arn:aws:iam::123456789012:role/platform-admin\"";
    let rest = s
        .strip_prefix("arn:aws:iam::")
        .or_else(|| s.strip_prefix("arn:aws-us-gov:iam::"))
        .or_else(|| s.strip_prefix("arn:aws-cn:iam::"))
        .ok_or(help)?;
    let (account, resource) = rest.split_once(':').ok_or(help)?;
    account_id(account).map_err(|_| help.to_string())?;
    let (kind, path) = resource.split_once('/').ok_or(help)?;
    if kind != "role" && kind != "group" {
        return Err(help.into());
    }
    let name = path.rsplit('/').next().unwrap_or("");
    let ok = !name.is_empty()
        && name.len() <= 64
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b));
    if ok {
        Ok((kind.to_string(), name.to_string()))
    } else {
        Err(help.into())
    }
}

/// An ACM certificate ARN.
pub fn acm_certificate_arn(s: &str) -> Result<(), String> {
    let help = "write an ACM certificate ARN such as \"arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-...\"";
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "acm"
        && region(parts[3]).is_ok()
        && account_id(parts[4]).is_ok()
        && parts[5].strip_prefix("certificate/").is_some_and(|id| {
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        });
    if ok { Ok(()) } else { Err(help.into()) }
}

/// A Kubernetes CPU quantity: `"8"`, `"0.5"`, `"500m"`.
pub fn cpu_quantity(s: &str) -> Result<(), String> {
    let help = "write a CPU quantity such as \"4\", \"0.5\" or \"500m\"";
    let num = s.strip_suffix('m').unwrap_or(s);
    decimal(num).then_some(()).ok_or_else(|| help.into())
}

/// A Kubernetes memory quantity: `"16Gi"`, `"512Mi"`, `"1G"`.
pub fn memory_quantity(s: &str) -> Result<(), String> {
    let help = "write a memory quantity such as \"16Gi\" or \"512Mi\"";
    let suffixes = ["Ki", "Mi", "Gi", "Ti", "Pi", "k", "M", "G", "T", "P"];
    let num = suffixes
        .iter()
        .find_map(|suf| s.strip_suffix(suf))
        .unwrap_or(s);
    decimal(num).then_some(()).ok_or_else(|| help.into())
}

fn decimal(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && !frac.is_empty()
        && frac.bytes().all(|b| b.is_ascii_digit())
        && s.bytes().any(|b| b != b'0' && b != b'.')
}

/// Whether the union of these networks is every IPv4 address.
pub fn covers_everything(nets: &[Ipv4Net]) -> bool {
    let mut ranges: Vec<(u64, u64)> = nets
        .iter()
        .map(|n| {
            let start = u64::from(u32::from(n.network()));
            (start, start + (1u64 << (32 - u32::from(n.prefix_len()))))
        })
        .collect();
    ranges.sort();
    let mut reached = 0u64;
    for (start, end) in ranges {
        if start > reached {
            return false;
        }
        reached = reached.max(end);
    }
    reached >= 1u64 << 32
}

/// A Prometheus duration to seconds, by Prometheus' own grammar (prometheus/common
/// `model.ParseDuration`, and the pattern of the pinned PrometheusRule CRD): `0`, or numbers
/// with the units `y`, `w`, `d`, `h`, `m`, `s`, `ms`, each at most once and from the largest
/// to the smallest (`1h30m`, not `30m1h`), within what a 64-bit count of nanoseconds holds
/// (about 292 years). Milliseconds count towards the total and are rounded down to seconds.
pub fn prom_duration(s: &str) -> Result<u64, String> {
    let help = "write a duration such as \"30s\", \"5m\" or \"1h30m\": units y, w, d, h, m, s, ms, each once, largest first";
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(help.into());
    }
    // Nanoseconds per unit, in Prometheus' order.
    const UNITS: [(&str, u128); 7] = [
        ("y", 365 * 86_400 * 1_000_000_000),
        ("w", 7 * 86_400 * 1_000_000_000),
        ("d", 86_400 * 1_000_000_000),
        ("h", 3_600 * 1_000_000_000),
        ("m", 60 * 1_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ];
    let mut rest = s;
    let mut next_unit = 0;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(help.into());
        }
        let n: u128 = rest[..digits].parse().map_err(|_| {
            "the number is too large: Prometheus holds durations to about 292 years".to_string()
        })?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(pos) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(help.into());
        };
        if pos < next_unit {
            return Err(format!(
                "the units go from the largest to the smallest, each once (\"1h30m\", not \"30m1h\"); {help}"
            ));
        }
        next_unit = pos + 1;
        total = n
            .checked_mul(UNITS[pos].1)
            .and_then(|v| total.checked_add(v))
            .filter(|t| *t <= i64::MAX as u128)
            .ok_or("the duration is too long: Prometheus holds durations to about 292 years")?;
    }
    Ok((total / 1_000_000_000) as u64)
}

/// An alerting rule's expression, parsed as PromQL (the promql-parser crate, GreptimeDB's
/// port of Prometheus' grammar and its type checks): it must parse, and give an instant vector
/// or a scalar, what Prometheus evaluates an alert from (a range vector or a string is refused
/// at every evaluation, "rule result is not a vector or scalar"). The error is
/// `(message, help)`.
pub fn promql_alert_expr(expr: &str) -> Result<(), (String, String)> {
    use promql_parser::parser::value::ValueType;
    match promql_parser::parser::parse(expr) {
        Err(e) => Err((
            format!(
                "the PromQL expression does not parse: {}",
                e.lines().next().unwrap_or("").trim()
            ),
            "write the condition as Prometheus would evaluate it, e.g. 'rate(http_requests_total{code=~\"5..\"}[5m]) > 1'; `promtool check rules` says the same".into(),
        )),
        Ok(ast) => match ast.value_type() {
            ValueType::Vector | ValueType::Scalar => Ok(()),
            other => Err((
                format!(
                    "the PromQL expression gives a {}, and an alert needs an instant vector",
                    if other == ValueType::Matrix { "range vector".to_string() } else { other.to_string() }
                ),
                "a range selector ([5m]) goes inside a function such as rate(...) or avg_over_time(...)".into(),
            )),
        },
    }
}

/// An HTTPRoute path prefix, by the rules of the pinned Gateway API CRD (v1.5.1,
/// `HTTPPathMatch`, for type `PathPrefix`): absolute; no `//`, `/./`, `/../`, `%2f`/`%2F` or
/// `#`; not ending in `/..` or `/.`; only the characters of
/// `^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$`; at most 1024 characters.
/// `crates/helm/tests/route_paths.rs` checks this against the CRD's own CEL rules.
pub fn route_path(s: &str) -> Result<(), String> {
    let fail = |why: &str| {
        Err(format!(
            "{why}; a path prefix looks like \"/\" or \"/v1/orders\""
        ))
    };
    if !s.starts_with('/') {
        return fail("it must start with '/'");
    }
    if s.chars().count() > 1024 {
        return fail("it is longer than 1024 characters");
    }
    for bad in ["//", "/./", "/../", "%2f", "%2F", "#"] {
        if s.contains(bad) {
            return fail(&format!("it must not contain '{bad}'"));
        }
    }
    for bad in ["/..", "/."] {
        if s.ends_with(bad) {
            return fail(&format!("it must not end with '{bad}'"));
        }
    }
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() {
                i += 3;
                continue;
            }
            return fail("'%' must start an escape of two hex digits (%20)");
        }
        if c.is_ascii_alphanumeric() || b"-/._~!$&'()*+,;=:@".contains(&c) {
            i += 1;
            continue;
        }
        let ch = s[i..].chars().next().unwrap_or('?');
        return fail(&format!(
            "{} is not allowed: percent-encode it (UTF-8 bytes as %XX)",
            if ch.is_ascii_graphic() {
                format!("'{ch}'")
            } else {
                format!("U+{:04X}", ch as u32)
            }
        ));
    }
    Ok(())
}

/// A Prometheus alert name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn alert_name(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
    if ok {
        Ok(())
    } else {
        Err(
            "alert names use letters, digits and '_' and start with a letter, e.g. \"NodeHighCpu\""
                .into(),
        )
    }
}

/// An email address of the plain `local@domain.tld` shape.
pub fn email(s: &str) -> Result<(), String> {
    let help = "write an email address such as \"oncall@example.com\"";
    let (local, domain) = s.split_once('@').ok_or(help)?;
    let ok = !local.is_empty()
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if ok { Ok(()) } else { Err(help.into()) }
}

/// An absolute `https://` (or `http://`) address with a host and no whitespace or quotes (it
/// lands in alert annotations and Slack messages).
pub fn web_url(s: &str) -> Result<(), String> {
    let help = "write an absolute address such as \"https://github.com/acme/platform/blob/main/docs/runbooks.md\"";
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or(help)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let ok = !host.is_empty()
        && s.len() <= 2048
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"'<>{}`".contains(c));
    if ok { Ok(()) } else { Err(help.into()) }
}

/// A name of an AWS Secrets Manager secret: 1-512 of `A-Za-z0-9/_+=.@-`.
pub fn secret_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 512
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("name an AWS Secrets Manager secret, e.g. \"flotilla/alerting/slack-webhook\"".into())
    }
}

/// An S3 bucket name.
pub fn bucket_name(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let ok = (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'.')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !s.contains("..");
    if ok {
        Ok(())
    } else {
        Err("S3 bucket names are 3-63 lowercase letters, digits, '-' and '.'".into())
    }
}

/// A Kubernetes label key (optional DNS prefix, `/`, a name of up to 63 characters).
pub fn label_key(s: &str) -> Result<(), String> {
    let help = "write a label key such as \"workload\" or \"example.com/tier\"";
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix {
        dns_name(p)
            .or_else(|_| dns_label(p, 253))
            .map_err(|_| help.to_string())?;
    }
    label_value(name).map_err(|_| help.to_string())?;
    if name.is_empty() {
        return Err(help.into());
    }
    Ok(())
}

/// A Kubernetes label value (may be empty).
pub fn label_value(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let ok = b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
        && b.first().is_none_or(|c| c.is_ascii_alphanumeric())
        && b.last().is_none_or(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err("label values are at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit".into())
    }
}

/// Any text as a valid label value: characters a label value cannot hold as `-`, at most 63,
/// starting and ending with a letter or digit (empty when none is left).
pub fn label_value_of(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let cut: String = trimmed.chars().take(63).collect();
    cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Text that looks like a credential rather than a reference to one.
///
/// Returns what it looks like. Names of secrets (e.g. `flotilla/slack-webhook`) pass; webhook
/// URLs, keys, tokens and passwords in URLs do not.
pub fn looks_like_secret(s: &str) -> Option<&'static str> {
    let lower = s.to_ascii_lowercase();
    if lower.contains("hooks.slack.com/") || lower.contains("/api/webhooks/") {
        return Some("a webhook URL");
    }
    if lower.contains("-----begin") {
        return Some("a private key or certificate");
    }
    if let Some(rest) = lower.split_once("://").map(|(_, r)| r)
        && let Some((userinfo, _)) = rest.split_once('@')
        && userinfo.contains(':')
        && !userinfo.contains('/')
    {
        return Some("a URL with a password");
    }
    let prefixes: [(&str, &str); 7] = [
        ("AKIA", "an AWS access key id"),
        ("ASIA", "an AWS access key id"),
        ("xoxb-", "a Slack token"),
        ("xoxp-", "a Slack token"),
        ("xapp-", "a Slack token"),
        ("ghp_", "a GitHub token"),
        ("glpat-", "a GitLab token"),
    ];
    for word in s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        for (p, what) in prefixes {
            if word.starts_with(p) && word.len() >= p.len() + 12 {
                // AWS key ids are 20 upper-case alphanumerics.
                if p.starts_with('A')
                    && !(word.len() == 20
                        && word
                            .bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
                {
                    continue;
                }
                return Some(what);
            }
        }
    }
    for key in [
        "password=",
        "passwd=",
        "secret=",
        "token=",
        "apikey=",
        "api_key=",
    ] {
        // `password=hunter2` is a credential; `secret="tls"` or `secret=~"..."` is a PromQL
        // label matcher (kube-state-metrics has a `secret` label) and must pass.
        let assigned = lower.match_indices(key).any(|(i, _)| {
            lower[i + key.len()..]
                .chars()
                .next()
                .is_some_and(|c| !(c.is_whitespace() || "\"'~=,}&".contains(c)))
        });
        if assigned {
            return Some("a credential assignment");
        }
    }
    // A long run of base64/hex without separators is a key, not a name.
    let longest = s
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '='))
        .map(|w| (w.len(), w))
        .max_by_key(|(n, _)| *n);
    if let Some((n, w)) = longest
        && n >= 32
        && w.bytes().any(|b| b.is_ascii_digit())
        && w.bytes().any(|b| b.is_ascii_alphabetic())
    {
        return Some("a key or token");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confusable_letter_is_named() {
        let e = dns_label("shop\u{0430}", 63).unwrap_err();
        assert!(e.contains("(U+0430, not ASCII)"), "{e}");
    }

    #[test]
    fn any_text_maps_to_a_valid_label_value() {
        assert_eq!(label_value_of("team-shop"), "team-shop");
        assert_eq!(label_value_of("team+shop@x"), "team-shop-x");
        assert_eq!(label_value_of("@admins="), "admins");
        let long = "a".repeat(62) + "+b";
        assert_eq!(label_value_of(&long), "a".repeat(62));
        for s in ["x".repeat(64), "=,@".into(), "Team.Shop_1".into()] {
            assert!(label_value(&label_value_of(&s)).is_ok(), "{s}");
        }
    }

    #[test]
    fn route_object_names_are_dns_labels() {
        use crate::route_object_name as name;
        assert_eq!(name("api", "/v1"), "api-v1");
        assert_eq!(name("www", "/"), "www-root");
        assert_eq!(name("eu.api", "/v1/orders/"), "eu-api-v1-orders");
        assert_eq!(name("api", "/a._~b"), "api-a-b");
        assert_eq!(name("api", "/a."), "api-a");
        // Distinct long paths stay distinct, within 63 characters.
        let a = name("api", &format!("/{}", "x".repeat(300)));
        let b = name("api", &format!("/{}y", "x".repeat(300)));
        assert_ne!(a, b);
        for n in [&a, &b] {
            assert!(n.len() <= 63 && dns_label(n, 63).is_ok(), "{n}");
        }
        // Paths that differ only in punctuation meet: validation refuses them.
        assert_eq!(name("api", "/v1-x"), name("api", "/v1/x"));
    }

    #[test]
    fn alert_expressions_are_parsed_as_promql() {
        for ok in [
            "up == 0",
            "rate(x[5m]) > 0.8",
            "vector(1)",
            "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) > 1",
            "1 > bool 0",
        ] {
            assert_eq!(promql_alert_expr(ok), Ok(()), "{ok}");
        }
        for bad in [
            "sum(rate(x[5m])",
            "rate(x) > 1",
            "up ==",
            "x[5m]",
            "\"text\"",
            "foo{",
            "up{a=}",
        ] {
            assert!(promql_alert_expr(bad).is_err(), "{bad}");
        }
        assert!(
            promql_alert_expr("x[5m]")
                .unwrap_err()
                .0
                .contains("instant vector")
        );
    }

    #[test]
    fn a_union_of_networks_can_cover_every_address() {
        let nets = |v: &[&str]| -> Vec<Ipv4Net> { v.iter().map(|s| s.parse().unwrap()).collect() };
        assert!(covers_everything(&nets(&["0.0.0.0/0"])));
        assert!(covers_everything(&nets(&["0.0.0.0/1", "128.0.0.0/1"])));
        assert!(covers_everything(&nets(&[
            "128.0.0.0/1",
            "0.0.0.0/2",
            "64.0.0.0/2",
            "10.0.0.0/8"
        ])));
        assert!(!covers_everything(&nets(&["0.0.0.0/1", "128.0.0.0/2"])));
        assert!(!covers_everything(&nets(&["203.0.113.0/24"])));
        assert!(!covers_everything(&[]));
    }

    /// Prometheus' duration grammar: units largest first, each once, `ms` included, `0` alone,
    /// and nothing past 64-bit nanoseconds (the pinned PrometheusRule CRD's pattern and
    /// prometheus/common `model.ParseDuration`).
    #[test]
    fn prometheus_durations_follow_prometheus_grammar() {
        assert_eq!(prom_duration("0"), Ok(0));
        assert_eq!(prom_duration("5m"), Ok(300));
        assert_eq!(prom_duration("1h30m"), Ok(5400));
        assert_eq!(
            prom_duration("1y2w3d4h5m6s7ms"),
            Ok(31_536_000 + 1_209_600 + 259_200 + 14_400 + 306)
        );
        assert_eq!(prom_duration("1500ms"), Ok(1));
        for bad in [
            "", "30m1h", "1m1m", "1s5m", "5", "m", "5x", "1.5h", "-5m", "5 m", "5M", "1h-1m",
        ] {
            assert!(prom_duration(bad).is_err(), "{bad:?}");
        }
        assert!(
            prom_duration("30m1h")
                .unwrap_err()
                .contains("largest to the smallest")
        );
        assert!(prom_duration("292y").is_ok());
        assert!(prom_duration("293y").unwrap_err().contains("292 years"));
        assert!(prom_duration("999999999999999999999999999999999999999999y").is_err());
    }
    use proptest::prelude::*;

    #[test]
    fn dns_labels() {
        for ok in ["a", "api1", "web-app", "x0"] {
            assert!(dns_label(ok, 63).is_ok(), "{ok}");
        }
        for bad in ["", "Api", "1api", "api-", "a_b", "a.b", &"a".repeat(64)] {
            assert!(dns_label(bad, 63).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns_label_help_names_the_broken_rule() {
        let why = |s: &str, max| dns_label(s, max).unwrap_err();
        assert!(why("Prod_1", 63).ends_with("this one has 'P', '_'"));
        assert!(why("abcdef", 5).ends_with("this one has 6 characters"));
        assert!(why("1api", 63).ends_with("this one starts with '1'"));
        assert!(why("api-", 63).ends_with("this one ends with '-'"));
        assert!(why("", 63).ends_with("this one is empty"));
        assert!(why("", 63).contains("at most 63 characters"));
    }

    #[test]
    fn cidrs() {
        assert!(cidr("10.0.0.0/16").is_ok());
        assert!(cidr("10.0.0.1/16").unwrap_err().contains("10.0.0.0/16"));
        assert!(cidr("10.0.0.0").is_err());
        assert!(cidr("300.0.0.0/8").is_err());
    }

    #[test]
    fn instance_types() {
        for ok in [
            "m6i.large",
            "c7g.2xlarge",
            "u-6tb1.metal",
            "t3.micro",
            "m7i-flex.large",
        ] {
            assert!(instance_type(ok).is_ok(), "{ok}");
        }
        for bad in [
            "m6i",
            "large",
            "M6i.large",
            "m6i.",
            ".large",
            "m.large",
            "m6i.2",
        ] {
            assert!(instance_type(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_recognised_and_names_are_not() {
        for s in [
            "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
            "AKIAIOSFODNN7EXAMPLE",
            "smtp://user:hunter2@mail.example.com",
            "xoxb-123456789012-abcdefghijkl",
            "-----BEGIN RSA PRIVATE KEY-----",
            "smtp password=hunter2",
            "https://example.com/hook?token=abc123",
            "wJalrXUtnFEMI0K7MDENG0bPxRfiCYEXAMPLEKEY",
        ] {
            assert!(looks_like_secret(s).is_some(), "{s}");
        }
        for s in [
            "flotilla/alerting/slack-webhook",
            "arn:aws:iam::123456789012:role/platform-admin",
            "oncall@example.com",
            "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
            "#platform-alerts",
            "email-smtp.eu-west-1.amazonaws.com:587",
            "time() - kube_secret_created{secret=\"tls-cert\"} > 86400 * 80",
            "kube_secret_info{secret=~\"db-.*\"}",
        ] {
            assert_eq!(looks_like_secret(s), None, "{s}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(prom_duration("5m"), Ok(300));
        assert_eq!(prom_duration("1h30m"), Ok(5400));
        assert!(prom_duration("5").is_err());
        assert!(prom_duration("5 min").is_err());
        assert!(prom_duration("").is_err());
    }

    fn net(a: u32, prefix: u8) -> Ipv4Net {
        Ipv4Net::new(a.into(), prefix).unwrap().trunc()
    }

    proptest! {
        /// Overlap is symmetric and agrees with a brute-force check on address ranges.
        #[test]
        fn overlap_matches_ranges(a in any::<u32>(), pa in 8u8..=28, b in any::<u32>(), pb in 8u8..=28) {
            let (x, y) = (net(a, pa), net(b, pb));
            let (xs, xe) = (u32::from(x.network()), u32::from(x.broadcast()));
            let (ys, ye) = (u32::from(y.network()), u32::from(y.broadcast()));
            let brute = xs <= ye && ys <= xe;
            prop_assert_eq!(overlaps(&x, &y), brute);
            prop_assert_eq!(overlaps(&x, &y), overlaps(&y, &x));
        }

        /// Every subnet of a network overlaps it; the next network of the same size does not.
        #[test]
        fn subnets_overlap_neighbours_do_not(a in any::<u32>(), p in 8u8..=24, extra in 0u8..=4) {
            let x = net(a, p);
            let sub = Ipv4Net::new(x.network(), p + extra).unwrap();
            prop_assert!(overlaps(&x, &sub));
            let size = 1u64 << (32 - p);
            let next = u64::from(u32::from(x.network())) + size;
            if next <= u64::from(u32::MAX) {
                let n = net(next as u32, p);
                prop_assert!(!overlaps(&x, &n));
            }
        }

        /// Any string built from the label alphabet that starts with a letter, ends with an
        /// alphanumeric and has at most 63 characters is a label; adding an upper-case or '_'
        /// character anywhere makes it invalid.
        #[test]
        fn dns_label_alphabet(s in "[a-z]([a-z0-9-]{0,61}[a-z0-9])?", bad in "[A-Z_.]", at in any::<prop::sample::Index>()) {
            prop_assert!(dns_label(&s, 63).is_ok());
            let mut chars: Vec<char> = s.chars().collect();
            let i = at.index(chars.len() + 1);
            chars.insert(i, bad.chars().next().unwrap());
            let broken: String = chars.into_iter().collect();
            prop_assert!(dns_label(&broken, 63).is_err());
        }

        #[test]
        fn dns_label_never_panics(s in ".*") {
            let _ = dns_label(&s, 63);
            let _ = cidr(&s);
            let _ = looks_like_secret(&s);
        }
    }
}
