//! Who is looking at a page: `Viewer<N>` is the route's [`Grant`] plus what the page shell
//! needs (the caller and the session's CSRF token for forms). The guard in `http/guard.rs`
//! has already redirected signed-out visitors, refused the under-privileged and checked
//! CSRF on form posts; a page cannot get a `Viewer` any other way.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth::Caller;
use crate::http::guard::Grant;

pub use crate::auth::need::*;

#[derive(Debug)]
pub struct Viewer<N: Need> {
    pub caller: Caller,
    pub csrf: String,
    pub grant: Grant<N>,
}

impl<N: Need> FromRequestParts<AppState> for Viewer<N> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let grant =
            Grant::<N>::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        Ok(Viewer { caller: grant.caller().clone(), csrf: grant.csrf().to_owned(), grant })
    }
}
