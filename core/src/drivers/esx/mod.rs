//! The esx driver (being written).
use std::sync::Arc;

use super::{Driver, OpenRequest, ParsedUri};
use crate::error::Result;

/// Opens the driver when the URI is for it.
pub(crate) fn open(_req: &OpenRequest, _uri: &ParsedUri) -> Option<Result<Arc<dyn Driver>>> {
    None
}
