//! Python binding (filled by the Python issue).
