//! A confirmation step before something is removed: a page that says what will happen and
//! posts only when the button is pressed, so it works without script and a stray click on
//! "Delete" removes nothing.

use axum::response::Response;
use maud::html;

use super::guard::{Need, Viewer};
use super::layout::{Page, csrf_field, render};

/// What to confirm: the question, what follows from it, where the form posts, the button.
pub struct Confirm<'a> {
    pub title: &'a str,
    pub section: &'a str,
    pub question: String,
    pub consequence: String,
    pub action: String,
    pub button: &'a str,
    pub cancel: String,
}

pub fn page<N: Need>(v: &Viewer<N>, c: Confirm<'_>) -> Response {
    let body = html! {
        h1 { (c.title) }
        section.card {
            p { strong { (c.question) } }
            p { (c.consequence) }
            form method="post" action=(c.action) class="actions" {
                (csrf_field(&v.csrf))
                button type="submit" { (c.button) }
                a.button.secondary href=(c.cancel) { "Cancel" }
            }
        }
    };
    render(
        &Page {
            caller: &v.caller,
            csrf: &v.csrf,
            title: c.title,
            section: c.section,
            live: false,
            flash: None,
        },
        body,
    )
}
