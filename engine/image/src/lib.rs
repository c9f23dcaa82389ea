//! berth's image layer: the content-addressed store, the registry v2 client and layer
//! extraction into snapshots.
