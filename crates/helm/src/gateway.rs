//! NGINX in front of the applications: NGINX Gateway Fabric behind an AWS Network Load Balancer,
//! one `Gateway` per workload cluster and one `HTTPRoute` per application route.
//!
//! TLS terminates on the NLB with the ACM certificate of the model (port 443); the NLB forwards
//! plain HTTP to the gateway's port-443 listener. Port 80 only redirects to HTTPS.

use std::collections::BTreeMap;

use flotilla_model::{Application, Cluster, Gateway, Platform, Route};
use serde::Serialize;
use serde_json::{Value, json};

use crate::meta::{Meta, Resource};
use crate::names::LOAD_BALANCER_CONTROLLER;
use crate::names::{GATEWAY_CLASS, GATEWAY_NAME, GATEWAY_NAMESPACE};
use crate::{CrdBundle, ReleaseDef, yaml};

pub const RELEASE: &str = "nginx-gateway-fabric";
const GATEWAY_API: &str = "gateway.networking.k8s.io/v1";
/// Listener names of the `Gateway`.
const HTTP_LISTENER: &str = "http";
const HTTPS_LISTENER: &str = "https";
/// Label an application namespace carries to be allowed to attach routes to the gateway.
pub const ROUTES_LABEL: &str = "flotilla.io/gateway-routes";

/// The Gateway API CRDs NGINX Gateway Fabric needs, from the pinned upstream release.
/// The Gateway API bundle's key in versions.toml `[crds]` (and its [`CrdBundle::name`]).
pub const GATEWAY_API_BUNDLE: &str = "gateway-api";

pub fn gateway_api_crds(platform: &Platform) -> CrdBundle {
    let bundle = platform
        .versions
        .crds
        .get(GATEWAY_API_BUNDLE)
        .expect("versions.toml pins the gateway-api CRDs");
    let channel = bundle.channel.as_deref().unwrap_or("standard");
    CrdBundle {
        name: GATEWAY_API_BUNDLE.into(),
        version: bundle.version.clone(),
        url: format!(
            "https://github.com/kubernetes-sigs/gateway-api/releases/download/{}/{channel}-install.yaml",
            bundle.version
        ),
    }
}

fn gateway(cluster: &Cluster) -> &Gateway {
    cluster
        .gateway
        .as_ref()
        .expect("validated workload clusters have a gateway")
}

/// The annotations the AWS Load Balancer Controller reads on the data plane's Service.
fn nlb_annotations(cluster: &Cluster) -> BTreeMap<&'static str, String> {
    let g = gateway(cluster);
    // Deletion protection is always written: the controller leaves an attribute it is no
    // longer given as it was, so turning protection off must say so (destroy relies on it).
    let attributes = [
        "load_balancing.cross_zone.enabled=true",
        if cluster.protected {
            "deletion_protection.enabled=true"
        } else {
            "deletion_protection.enabled=false"
        },
    ];
    BTreeMap::from([
        (
            "service.beta.kubernetes.io/aws-load-balancer-type",
            "external".to_string(),
        ),
        (
            "service.beta.kubernetes.io/aws-load-balancer-scheme",
            g.scheme.as_str().to_string(),
        ),
        (
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type",
            "ip".to_string(),
        ),
        (
            "service.beta.kubernetes.io/aws-load-balancer-ssl-cert",
            g.certificate_arn.clone(),
        ),
        (
            "service.beta.kubernetes.io/aws-load-balancer-ssl-ports",
            "443".to_string(),
        ),
        (
            "service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy",
            "ELBSecurityPolicy-TLS13-1-2-2021-06".to_string(),
        ),
        (
            "service.beta.kubernetes.io/aws-load-balancer-backend-protocol",
            "tcp".to_string(),
        ),
        (
            "service.beta.kubernetes.io/aws-load-balancer-attributes",
            attributes.join(","),
        ),
        // Proxy protocol v2 on every target group: NGINX reads the client's address from it
        // (`rewriteClientIP` below); IP targets see the NLB's addresses otherwise.
        (
            "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol",
            "*".to_string(),
        ),
    ])
}

pub fn nginx_gateway_fabric(platform: &Platform, cluster: &Cluster) -> ReleaseDef {
    let _ = platform;
    // Two data plane replicas everywhere, three on protected clusters (one per zone).
    let data_plane_replicas = if cluster.protected { 3 } else { 2 };
    ReleaseDef {
        name: RELEASE,
        chart: "nginx-gateway-fabric",
        namespace: GATEWAY_NAMESPACE,
        needs: vec![LOAD_BALANCER_CONTROLLER],
        needs_manifests: vec![],
        needs_secrets: vec![],
        holds_load_balancer_protection: true,
        values: json!({
            "nginxGateway": {
                "gatewayClassName": GATEWAY_CLASS,
                "replicas": if cluster.protected { 2 } else { 1 },
                "productTelemetry": { "enable": false },
            },
            "nginx": {
                "replicas": data_plane_replicas,
                // The client address from the NLB's proxy protocol header, trusted only from
                // the VPC (where the NLB's nodes are).
                "config": {
                    "rewriteClientIP": {
                        "mode": "ProxyProtocol",
                        "trustedAddresses": [{ "type": "CIDR", "value": cluster.vpc_cidr.to_string() }],
                    },
                },
                "service": {
                    "type": "LoadBalancer",
                    "loadBalancerClass": "service.k8s.aws/nlb",
                    // Keeps the client address visible to NGINX.
                    "externalTrafficPolicy": "Local",
                    "patches": [{
                        "type": "StrategicMerge",
                        "value": { "metadata": { "annotations": nlb_annotations(cluster) } },
                    }],
                },
            },
        }),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GatewaySpec {
    gateway_class_name: &'static str,
    listeners: Vec<Listener>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listener {
    name: &'static str,
    port: u16,
    protocol: &'static str,
    allowed_routes: AllowedRoutes,
}

#[derive(Serialize)]
struct AllowedRoutes {
    namespaces: RouteNamespaces,
}

#[derive(Serialize)]
struct RouteNamespaces {
    from: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    selector: Option<LabelSelector>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LabelSelector {
    match_labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HttpRouteSpec {
    parent_refs: Vec<ParentRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hostnames: Vec<String>,
    rules: Vec<HttpRouteRule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParentRef {
    name: &'static str,
    namespace: &'static str,
    section_name: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HttpRouteRule {
    matches: Vec<HttpRouteMatch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    filters: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    backend_refs: Vec<BackendRef>,
}

#[derive(Serialize)]
struct HttpRouteMatch {
    path: PathMatch,
}

#[derive(Serialize)]
struct PathMatch {
    #[serde(rename = "type")]
    type_: &'static str,
    value: String,
}

#[derive(Serialize)]
struct BackendRef {
    name: String,
    port: u16,
}

/// Name of the HTTPRoute of one route: its host and path, e.g. `api-v1`, `www-root`.
pub fn route_name(route: &Route) -> String {
    route.object_name()
}

/// Routes of an environment with their application, in model order.
pub fn routes_in<'a>(
    platform: &'a Platform,
    cluster: &'a Cluster,
) -> impl Iterator<Item = (&'a Application, &'a Route)> + 'a {
    platform
        .applications_in(&cluster.environment)
        .flat_map(move |(app, _)| {
            app.routes
                .iter()
                .filter(move |r| r.environments.contains(&cluster.environment))
                .map(move |r| (app, r))
        })
}

/// The `Gateway`, the HTTP-to-HTTPS redirect and one `HTTPRoute` per application route.
pub fn objects(platform: &Platform, cluster: &Cluster) -> Vec<Value> {
    let mut out = Vec::new();
    out.push(yaml::value(&Resource {
        api_version: GATEWAY_API,
        kind: "Gateway",
        metadata: Meta::new(platform, cluster, GATEWAY_NAME, GATEWAY_NAMESPACE),
        spec: GatewaySpec {
            gateway_class_name: GATEWAY_CLASS,
            listeners: vec![
                Listener {
                    name: HTTP_LISTENER,
                    port: 80,
                    protocol: "HTTP",
                    allowed_routes: AllowedRoutes {
                        namespaces: RouteNamespaces {
                            from: "Same",
                            selector: None,
                        },
                    },
                },
                Listener {
                    name: HTTPS_LISTENER,
                    port: 443,
                    // TLS is terminated by the NLB (ACM certificate).
                    protocol: "HTTP",
                    allowed_routes: AllowedRoutes {
                        namespaces: RouteNamespaces {
                            from: "Selector",
                            selector: Some(LabelSelector {
                                match_labels: BTreeMap::from([(
                                    ROUTES_LABEL.to_string(),
                                    "true".to_string(),
                                )]),
                            }),
                        },
                    },
                },
            ],
        },
    }));
    out.push(yaml::value(&Resource {
        api_version: GATEWAY_API,
        kind: "HTTPRoute",
        metadata: Meta::new(platform, cluster, "https-redirect", GATEWAY_NAMESPACE),
        spec: HttpRouteSpec {
            parent_refs: vec![ParentRef {
                name: GATEWAY_NAME,
                namespace: GATEWAY_NAMESPACE,
                section_name: HTTP_LISTENER,
            }],
            hostnames: vec![],
            rules: vec![HttpRouteRule {
                matches: vec![HttpRouteMatch {
                    path: PathMatch {
                        type_: "PathPrefix",
                        value: "/".into(),
                    },
                }],
                filters: vec![json!({
                    "type": "RequestRedirect",
                    "requestRedirect": { "scheme": "https", "statusCode": 301 },
                })],
                backend_refs: vec![],
            }],
        },
    }));
    for (app, route) in routes_in(platform, cluster) {
        let hostname = route
            .hostname(cluster)
            .expect("workload clusters have a gateway");
        out.push(yaml::value(&Resource {
            api_version: GATEWAY_API,
            kind: "HTTPRoute",
            metadata: Meta::new(platform, cluster, route_name(route), &app.namespace)
                .label("flotilla.io/application", &app.name),
            spec: HttpRouteSpec {
                parent_refs: vec![ParentRef {
                    name: GATEWAY_NAME,
                    namespace: GATEWAY_NAMESPACE,
                    section_name: HTTPS_LISTENER,
                }],
                hostnames: vec![hostname],
                rules: vec![HttpRouteRule {
                    matches: vec![HttpRouteMatch {
                        path: PathMatch {
                            type_: "PathPrefix",
                            value: route.path.clone(),
                        },
                    }],
                    // TLS ends at the NLB, so NGINX sees plain HTTP on its 443 listener and
                    // would tell the application `X-Forwarded-Proto: http` (and frameworks that
                    // enforce HTTPS would redirect in a loop): every request here came in as
                    // HTTPS. A set with NGF's own header name replaces its default.
                    filters: vec![json!({
                        "type": "RequestHeaderModifier",
                        "requestHeaderModifier": {
                            "set": [{ "name": "X-Forwarded-Proto", "value": "https" }],
                        },
                    })],
                    backend_refs: vec![BackendRef {
                        name: route.service.clone(),
                        port: route.port,
                    }],
                }],
            },
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(host: &str, path: &str) -> Route {
        Route {
            host: host.into(),
            path: path.into(),
            service: "s".into(),
            port: 80,
            target_port: 8080,
            environments: Default::default(),
        }
    }

    #[test]
    fn route_names_follow_host_and_path() {
        assert_eq!(route_name(&route("api", "/v1")), "api-v1");
        assert_eq!(route_name(&route("www", "/")), "www-root");
        assert_eq!(route_name(&route("shop.eu", "/api/v1/")), "shop-eu-api-v1");
        assert_eq!(route_name(&route("a", "/x_y")), "a-x-y");
    }
}
