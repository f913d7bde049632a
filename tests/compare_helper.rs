//! The comparison every parity and kernel test relies on: it must fail on NaN, on infinities, on
//! a wrong length and on small elements that are wrong, not only on the largest ones.

mod common;

use common::assert_close;
use common::compare::{check_close, ROUNDING_FLOOR};

fn fails(actual: &[f32], expected: &[f32], tolerance: f32, says: &str) {
    match check_close(actual, expected, tolerance) {
        Ok(()) => panic!("{actual:?} against {expected:?} passed"),
        Err(message) => assert!(message.contains(says), "`{message}` does not say `{says}`"),
    }
}

#[test]
fn equal_values_pass() {
    assert_close("equal", &[1.0, -2.0, 0.0], &[1.0, -2.0, 0.0], 0.0);
    assert_close("empty", &[], &[], 1e-4);
}

#[test]
fn nan_fails_anywhere() {
    fails(&[f32::NAN, 1.0], &[0.0, 1.0], 1e-3, "actual element 0 is NaN");
    fails(&[f32::NAN; 3], &[1.0, 2.0, 3.0], 1.0, "actual element 0 is NaN");
    fails(&[1.0, 2.0], &[1.0, f32::NAN], 1e-3, "expected element 1 is NaN");
}

#[test]
fn infinities_fail() {
    fails(&[1.0, f32::INFINITY], &[1.0, 2.0], 1e-3, "actual element 1 is inf");
    fails(&[f32::NEG_INFINITY], &[-1e30], 1e-3, "actual element 0 is -inf");
    fails(&[f32::INFINITY], &[f32::INFINITY], 1e-3, "actual element 0 is inf");
}

#[test]
fn lengths_must_match() {
    fails(&[1.0, 2.0], &[1.0, 2.0, 3.0], 1e-3, "length 2 vs expected 3");
}

#[test]
fn every_element_is_held_to_its_own_size() {
    let expected = [100.0, 5.0, -20.0];
    // 0.4 % off on the second element is within 1e-2 but not within 1e-3 of itself.
    assert_close("within", &[100.0, 5.02, -20.0], &expected, 1e-2);
    fails(&[100.0, 5.02, -20.0], &expected, 1e-3, "element 1 is 5.02 but expected 5");
    // The largest element's share of error (1e-3 × 100) does not excuse a smaller one.
    fails(&[100.0, 5.0, -20.05], &expected, 1e-3, "element 2 is -20.05");
}

#[test]
fn small_elements_get_only_the_rounding_floor() {
    let scale = 1000.0;
    let tolerance = 1e-3;
    let floor = ROUNDING_FLOOR * scale;
    // A zero may move by the floor, not more.
    assert_close("at zero", &[scale, 0.9 * floor], &[scale, 0.0], tolerance);
    fails(&[scale, 1.1 * floor], &[scale, 0.0], tolerance, "element 1");
    // A small element gets its own share of the tolerance on top of the floor.
    assert_close("small", &[scale, 1.0 + 0.9 * (1e-3 + floor)], &[scale, 1.0], tolerance);
    fails(&[scale, 1.0 + 1.1 * (1e-3 + floor)], &[scale, 1.0], tolerance, "element 1");
    // What the old "fraction of the largest magnitude" check let through: an element of 1e-3 of
    // the largest off by half of itself.
    fails(&[scale, 1.5], &[scale, 1.0], tolerance, "element 1 is 1.5 but expected 1");
}

#[test]
fn never_looser_than_the_largest_magnitude_bound() {
    // With a tolerance below the rounding floor, the bound of the old check still holds.
    assert_close("within", &[1.0, 0.5 + 0.9e-5], &[1.0, 0.5], 1e-5);
    fails(&[1.0, 0.5 + 1.5e-5], &[1.0, 0.5], 1e-5, "element 1");
}

#[test]
fn the_message_names_the_worst_element() {
    fails(&[1.01, 2.0, 3.3], &[1.0, 2.0, 3.0], 1e-3, "element 2 is 3.3");
}

#[test]
#[should_panic(expected = "named comparison: actual element 0 is NaN")]
fn assert_close_panics_with_the_name() {
    assert_close("named comparison", &[f32::NAN], &[1.0], 1e-3);
}
