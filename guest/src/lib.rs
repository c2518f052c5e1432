//! The default stratbox backtester as a WebAssembly component: the MVT family of SPEC section 3.
//! All logic is in `stratbox-engine`; the guest library binds it to the WIT world.

stratbox_guest_sdk::export_strategy!(stratbox_guest_sdk::engine::Mvt);
