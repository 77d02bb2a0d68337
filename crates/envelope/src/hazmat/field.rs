//! GF(2¹²⁸) arithmetic in GCM's bit order, computed by RustCrypto's GHASH.
//!
//! GHASH keyed with `b` over the single block `a` is `(0 ⊕ a)·b = a·b`, so the
//! `ghash` crate (constant-time polyval backend, no tables) is the multiplier.
//! Nothing here branches on or indexes by an operand: [`pow`] is steered by its
//! exponent, which callers only ever take from public lengths, and [`invert`]
//! runs one fixed sequence of products.

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

/// `x^exponent`, by square-and-multiply over the exponent's bits. The exponent
/// chooses the steps, so it must be public (a length); `x` may be secret.
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

/// `x⁻¹ = x^(2¹²⁸ − 2)` (Fermat: the multiplicative group has order 2¹²⁸ − 1),
/// and `0` for `0`. The exponent is a constant, so every input takes the same
/// 127 squarings and 126 products.
pub fn invert(x: &Block) -> Block {
    // r = x^(2^k − 1) after k steps of r ← r²·x; then one more squaring.
    let mut r = *x;
    for _ in 1..127 {
        r = mul(&mul(&r, &r), x);
    }
    let inverse = mul(&r, &r);
    r.zeroize();
    inverse
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

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn invert_gives_the_multiplicative_inverse() {
        assert_eq!(invert(&ONE), ONE);
        assert_eq!(invert(&[0; 16]), [0; 16]);
        for seed in [1, 2, 7, 200] {
            let x = sample(seed);
            assert_eq!(mul(&invert(&x), &x), ONE, "seed {seed}");
            assert_eq!(invert(&invert(&x)), x);
        }
        // The polynomial x (bit 1 of the first byte) and x¹²⁷ (last bit).
        let mut x = [0u8; 16];
        x[0] = 0x40;
        assert_eq!(mul(&invert(&x), &x), ONE);
        let mut x127 = [0u8; 16];
        x127[15] = 0x01;
        assert_eq!(mul(&invert(&x127), &x127), ONE);
    }
}
