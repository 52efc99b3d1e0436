//! `GET /admin/tree` (JSON), `GET /admin/crashes` (the supervisors' crash reports) and
//! `GET /admin/tree.html` (the tree and the server's vital signs, drawn live).

use std::sync::atomic::Ordering;

use serde_json::{json, Value};
use web_server_http::{Response, StatusCode};

use super::AdminState;
use crate::tcp::PUBLIC;

/// The tree page: no external assets; it fetches `/admin/tree` every second.
const PAGE: &str = include_str!("tree.html");
/// Shown instead of the page when a token is required and missing.
const SIGN_IN: &str = include_str!("sign_in.html");

/// The snapshot as JSON, with the listener node extended like `ranch:info`.
pub(super) async fn json(state: &AdminState, all_connections: bool) -> Response {
    let snapshot = state.root.snapshot(all_connections).await;
    let mut tree = match serde_json::to_value(&snapshot) {
        Ok(tree) => tree,
        Err(err) => return super::text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{err}\n")),
    };
    let public = &state.public;
    let listener = json!({
        "addresses": public.addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "accepting": public.accepting.load(Ordering::Acquire),
        "active_connections": public.gate.active(),
        "total_connections": public.gate.accepted(),
        "max_connections": public.gate.limit(),
        "workers": public.workers.len(),
    });
    if let Some(node) = find_mut(&mut tree, PUBLIC.listener) {
        node["listener"] = listener;
    }
    let mut body = tree.to_string();
    body.push('\n');
    super::typed(StatusCode::OK, "application/json", body)
}

/// `GET /admin/crashes`: every supervisor's crash reports, newest first, each with the id of
/// the supervisor that kept it. The same reports are in `/admin/tree`, under each supervisor's
/// `supervisor.crashes`.
pub(super) async fn crashes_json(state: &AdminState) -> Response {
    let snapshot = state.root.snapshot(false).await;
    let mut crashes: Vec<Value> = snapshot
        .walk()
        .into_iter()
        .filter_map(|node| Some((node, node.supervisor.as_ref()?)))
        .flat_map(|(node, info)| {
            info.crashes.iter().map(|report| {
                let mut report = json!(report);
                report["supervisor"] = json!(node.id);
                report
            })
        })
        .collect();
    crashes.sort_by_key(|report| std::cmp::Reverse(report["unix_ms"].as_u64().unwrap_or(0)));
    let mut body = json!({ "crashes": crashes }).to_string();
    body.push('\n');
    super::typed(StatusCode::OK, "application/json", body)
}

fn find_mut<'v>(node: &'v mut Value, id: &str) -> Option<&'v mut Value> {
    if node["id"] == id {
        return Some(node);
    }
    node.get_mut("children")?
        .as_array_mut()?
        .iter_mut()
        .find_map(|child| find_mut(child, id))
}

/// The tree page, with whether kill buttons are offered.
pub(super) fn page(allow_kill: bool) -> String {
    PAGE.replace("__ALLOW_KILL__", if allow_kill { "true" } else { "false" })
}

/// The sign-in page for a token-protected endpoint.
pub(super) fn sign_in_page() -> String {
    SIGN_IN.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_mut_reaches_nested_nodes() {
        let mut tree = json!({"id": "a", "children": [{"id": "b", "children": [{"id": "c", "children": []}]}]});
        find_mut(&mut tree, "c").unwrap()["listener"] = json!(1);
        assert_eq!(tree["children"][0]["children"][0]["listener"], 1);
        assert!(find_mut(&mut tree, "z").is_none());
    }

    #[test]
    fn page_is_self_contained() {
        let html = page(true);
        assert!(html.contains("const ALLOW_KILL = true"));
        for external in ["<script src", "<link", "@import", "url("] {
            assert!(!html.contains(external), "no external assets: {external}");
        }
        assert!(!page(false).contains("__ALLOW_KILL__"));
    }
}
