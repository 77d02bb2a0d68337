//! GF(2¹²⁸) products in GCM's bit order, computed by RustCrypto's GHASH.
//!
//! GHASH keyed with `b` over the single block `a` is `(0 ⊕ a)·b = a·b`, so the
//! `ghash` crate (constant-time polyval backend, no tables) is the multiplier.
//! Exponents are lengths, which are public; only they select the steps of
//! square-and-multiply.

use ghash::GHash;
use ghash::universal_hash::{KeyInit, UniversalHash};
use zeroize::Zeroize;

/// One field element / AES block.
pub type Block = [u8; 16];

/// The multiplicative identity: the polynomial `1`, whose coefficient is the
/// most significant bit of the first byte in GCM's representation.
pub const ONE: Block = {
    let mut one = [0u8; 16];
    one[0] = 0x80;
    one
};

/// `a · b`.
pub fn mul(a: &Block, b: &Block) -> Block {
    let mut ghash = <GHash as KeyInit>::new(&(*b).into());
    ghash.update(&[(*a).into()]);
    let mut product = [0u8; 16];
    product.copy_from_slice(&ghash.finalize());
    product
}

/// `a ⊕ b` (field addition).
pub fn add(a: &Block, b: &Block) -> Block {
    let mut sum = *a;
    sum.iter_mut().zip(b).for_each(|(s, b)| *s ^= b);
    sum
}

/// `x^exponent`, by square-and-multiply over the exponent's bits.
pub fn pow(x: &Block, exponent: u64) -> Block {
    let mut result = ONE;
    let mut square = *x;
    let mut remaining = exponent;
    while remaining > 0 {
        if remaining & 1 == 1 {
            result = mul(&result, &square);
        }
        remaining >>= 1;
        if remaining > 0 {
            square = mul(&square, &square);
        }
    }
    square.zeroize();
    result
}

/// `be64(high) ‖ be64(low)`: GCM's length blocks.
pub fn length_block(high: u64, low: u64) -> Block {
    let mut block = [0u8; 16];
    block[..8].copy_from_slice(&high.to_be_bytes());
    block[8..].copy_from_slice(&low.to_be_bytes());
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seed: u8) -> Block {
        core::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 7))
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn one_is_the_identity_and_products_commute() {
        let (a, b) = (sample(3), sample(11));
        assert_eq!(mul(&ONE, &a), a);
        assert_eq!(mul(&a, &ONE), a);
        assert_eq!(mul(&a, &b), mul(&b, &a));
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn pow_matches_repeated_multiplication() {
        let x = sample(5);
        let mut expected = ONE;
        for e in 0..40u64 {
            assert_eq!(pow(&x, e), expected, "x^{e}");
            expected = mul(&expected, &x);
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn multiplication_distributes_over_addition() {
        let (a, b, c) = (sample(1), sample(2), sample(9));
        assert_eq!(mul(&add(&a, &b), &c), add(&mul(&a, &c), &mul(&b, &c)));
    }
}
