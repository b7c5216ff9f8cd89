//! The `ws-app` suite (`app_common`), run on both of ws-app's runtimes:
//! tokio (`ws_app::rt::Tokio`) and smol (`ws_app::rt::Smol`). Each
//! scenario is a test named `<runtime>::<scenario>`.

mod app_common;
mod app_runtimes;

mod tokio_rt {
    use crate::app_runtimes::Tokio;

    crate::app_scenarios!(Tokio);
}

mod smol_rt {
    use crate::app_runtimes::Smol;

    crate::app_scenarios!(Smol);
}
