//! The statistics' inner loops compiled twice: for the baseline x86_64 (SSE2, two f64 lanes)
//! and for AVX (four lanes), picked at run time by what the CPU has.
//!
//! Why this is safe for the numbers: each lane does the same IEEE additions, multiplications,
//! divisions and square roots in the same order, and Rust never fuses a multiply and an add, so
//! the AVX build gives the same bits as SSE2, as aarch64 and as a loop of scalars. Only the
//! speed differs (the bench `benches/versions.sh` and `stratbox luck` timings in the README).

/// `avx_kernel! { fn name(args) = lanes }` defines `name`, which runs `lanes(args)` compiled
/// with AVX where the CPU has it and as it is elsewhere. `lanes` should be `#[inline(always)]`,
/// so that its loops are compiled inside each variant.
macro_rules! avx_kernel {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) = $lanes:ident) => {
        $(#[$doc])*
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx")]
                unsafe fn avx($($arg: $ty),*) {
                    $lanes($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx") {
                    // SAFETY: this CPU has AVX, checked just above.
                    return unsafe { avx($($arg),*) };
                }
            }
            $lanes($($arg),*)
        }
    };
}

pub(crate) use avx_kernel;
