//! Properties every generated scene must have, checked over many seeds.

use std::collections::HashSet;

use super::spec::SEPARATION_GAP;
use super::*;

fn generate(seed: u64, size: u32, spec: &SceneSpec) -> Scene {
    Scene::generate(seed, size, spec).unwrap()
}

/// FNV-1a, to compare or pin image bytes cheaply.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

fn assert_masks_match_pixels(scene: &Scene) {
    for y in 0..scene.size {
        for x in 0..scene.size {
            let pixel = scene.image.get_pixel(x, y).0;
            let owners: Vec<&SceneObject> = scene.objects.iter().filter(|o| o.mask.get(x, y)).collect();
            let colour_of_pixel = Colour::ALL.iter().find(|colour| colour.rgb() == pixel);
            match (owners.as_slice(), colour_of_pixel) {
                ([], None) => {}
                ([owner], Some(&colour)) => {
                    assert_eq!(owner.colour, colour, "seed {} ({x},{y})", scene.seed)
                }
                _ => panic!("seed {} pixel ({x},{y}) {pixel:?} has {} owners", scene.seed, owners.len()),
            }
        }
    }
}

fn assert_scene_invariants(scene: &Scene, spec: &SceneSpec) {
    let count = scene.objects.len();
    assert!((spec.min_objects..=spec.max_objects).contains(&count));
    let (min_extent, max_extent) = spec.extent_range(scene.size);
    let identities: HashSet<(Colour, Shape)> = scene.objects.iter().map(|o| (o.colour, o.shape)).collect();
    assert_eq!(identities.len(), count, "repeated colour-shape pair");
    for object in &scene.objects {
        assert!(spec.colours.contains(&object.colour) && spec.shapes.contains(&object.shape));
        assert!((min_extent..=max_extent).contains(&object.extent));
        assert!(object.bbox.width() <= object.extent && object.bbox.height() <= object.extent);
        assert!(object.bbox.x1 <= scene.size && object.bbox.y1 <= scene.size);
        assert_eq!(object.mask.bounding_box(), Some(object.bbox));
        assert!(object.mask.pixels().all(|(x, y)| object.bbox.contains(x, y)));
        assert!(object.visible_fraction() >= spec.min_visible_fraction, "seed {}", scene.seed);
        assert!(object.visible_fraction() <= 1.0);
    }
    for (index, a) in scene.objects.iter().enumerate() {
        for b in &scene.objects[index + 1..] {
            if a.colour == b.colour {
                assert!(!a.bbox.comes_within(&b.bbox, SEPARATION_GAP), "seed {}", scene.seed);
            }
        }
    }
    assert_masks_match_pixels(scene);
    assert_captions_consistent(scene);
}

fn assert_captions_consistent(scene: &Scene) {
    let objects = &scene.objects;
    let of_kind = |kind| scene.captions.iter().filter(move |caption| caption.kind == kind);
    let singles: Vec<&Caption> = of_kind(CaptionKind::Single).collect();
    assert_eq!(singles.len(), objects.len());
    for (index, caption) in singles.iter().enumerate() {
        assert_eq!(caption.objects, vec![index]);
        assert_eq!(caption.text, object_phrase(objects[index].colour, objects[index].shape));
        assert_eq!(scene.find_object(&caption.text), Some(index));
    }
    let pairs = objects.len() * objects.len().saturating_sub(1) / 2;
    assert_eq!(of_kind(CaptionKind::Conjunction).count(), pairs);
    for caption in of_kind(CaptionKind::Conjunction) {
        let [first, second] = caption.objects[..] else { panic!("conjunction names two objects") };
        assert!(first < second);
        assert_eq!(caption.text, format!("{} and {}", objects[first].phrase(), objects[second].phrase()));
    }
    let separated_pairs = (0..objects.len())
        .flat_map(|a| (a + 1..objects.len()).map(move |b| (a, b)))
        .filter(|&(a, b)| objects[a].bbox.is_horizontally_disjoint(&objects[b].bbox))
        .count();
    assert_eq!(of_kind(CaptionKind::LeftOf).count(), separated_pairs);
    for caption in of_kind(CaptionKind::LeftOf) {
        let [left, right] = caption.objects[..] else { panic!("relation names two objects") };
        assert!(objects[left].bbox.x1 <= objects[right].bbox.x0);
        assert_eq!(caption.text, format!("{} left of {}", objects[left].phrase(), objects[right].phrase()));
    }
}

#[test]
fn same_seed_gives_identical_scenes() {
    let spec = SceneSpec::default();
    for seed in 0..20 {
        let (a, b) = (generate(seed, 64, &spec), generate(seed, 64, &spec));
        assert_eq!(a.image, b.image);
        assert_eq!(a.captions, b.captions);
        assert_eq!(a.background, b.background);
        let masks = |scene: &Scene| scene.objects.iter().map(|o| o.mask.clone()).collect::<Vec<_>>();
        assert_eq!(masks(&a), masks(&b));
    }
}

#[test]
fn different_seeds_give_different_images() {
    let spec = SceneSpec::default();
    let fingerprints: HashSet<u64> =
        (0..300).map(|seed| fingerprint(generate(seed, 64, &spec).image.as_raw())).collect();
    assert_eq!(fingerprints.len(), 300);
}

#[test]
fn pinned_scene_bytes_never_change() {
    // Pinned outputs: a change here means every published dataset and every
    // browser-side scene would silently differ, so it must be deliberate.
    let plain = generate(42, 64, &SceneSpec::default());
    let crowded_spec = SceneSpec { min_objects: 4, overlap_probability: 1.0, ..SceneSpec::default() };
    let crowded = generate(43, 97, &crowded_spec);
    let summary = |scene: &Scene| (fingerprint(scene.image.as_raw()), scene.captions[0].text.clone());
    assert_eq!(summary(&plain), (10_142_379_019_008_438_973, "a blue triangle".into()));
    assert_eq!(summary(&crowded), (4_146_682_166_618_412_561, "a green circle".into()));
    assert!(crowded.objects.iter().any(|object| object.visible_fraction() < 1.0));
}

#[test]
fn default_scenes_hold_every_invariant() {
    let spec = SceneSpec::default();
    for seed in 0..1_500 {
        assert_scene_invariants(&generate(seed, 64, &spec), &spec);
    }
}

#[test]
fn invariants_hold_at_other_sizes() {
    let spec = SceneSpec::default();
    for (size, seeds) in [(24, 300), (37, 300), (100, 100), (224, 30), (512, 6)] {
        for seed in 0..seeds {
            assert_scene_invariants(&generate(seed, size, &spec), &spec);
        }
    }
}

#[test]
fn heavy_overlap_keeps_objects_half_visible() {
    let spec = SceneSpec { min_objects: 4, overlap_probability: 1.0, ..SceneSpec::default() };
    let mut occluded = 0;
    for seed in 0..1_000 {
        let scene = generate(seed, 64, &spec);
        assert_scene_invariants(&scene, &spec);
        occluded += scene.objects.iter().filter(|o| o.visible_fraction() <= 0.9).count();
    }
    assert!(occluded > 1_000, "overlap was asked for but only {occluded} objects occluded");
}

#[test]
fn no_overlap_means_untouched_objects() {
    let spec = SceneSpec { overlap_probability: 0.0, ..SceneSpec::default() };
    for seed in 0..300 {
        let scene = generate(seed, 64, &spec);
        assert!(scene.objects.iter().all(|o| o.mask.count() as u32 == o.full_area));
    }
}

#[test]
fn object_count_range_is_respected_and_covered() {
    let spec = SceneSpec { min_objects: 2, max_objects: 3, ..SceneSpec::default() };
    let counts: HashSet<usize> = (0..200).map(|seed| generate(seed, 64, &spec).objects.len()).collect();
    assert_eq!(counts, HashSet::from([2, 3]));
    let defaults: HashSet<usize> =
        (0..200).map(|seed| generate(seed, 64, &SceneSpec::default()).objects.len()).collect();
    assert_eq!(defaults, HashSet::from([1, 2, 3, 4]));
}

#[test]
fn spec_restricts_vocabulary() {
    let spec = SceneSpec {
        colours: vec![Colour::Blue, Colour::Yellow],
        shapes: vec![Shape::Triangle],
        max_objects: 2,
        ..SceneSpec::default()
    };
    for seed in 0..100 {
        assert_scene_invariants(&generate(seed, 48, &spec), &spec);
    }
}

#[test]
fn patch_coverage_accounts_for_every_visible_pixel() {
    let spec = SceneSpec::default();
    for (size, rows, cols) in [(64, 8, 8), (64, 7, 5), (100, 14, 14), (37, 37, 1)] {
        for seed in 0..40 {
            let scene = generate(seed, size, &spec);
            for (index, object) in scene.objects.iter().enumerate() {
                let coverage = scene.patch_coverage(index, rows, cols);
                assert_eq!(coverage.len(), (rows * cols) as usize);
                assert!(coverage.iter().all(|&fraction| (0.0..=1.0).contains(&fraction)));
                let covered_pixels: f64 = coverage
                    .iter()
                    .enumerate()
                    .map(|(patch, &fraction)| {
                        let (row, col) = (patch as u32 / cols, patch as u32 % cols);
                        let height = (row + 1) * size / rows - row * size / rows;
                        let width = (col + 1) * size / cols - col * size / cols;
                        f64::from(fraction) * f64::from(height * width)
                    })
                    .sum();
                assert!((covered_pixels - object.mask.count() as f64).abs() < 1e-3);
            }
        }
    }
}

#[test]
fn backgrounds_vary_in_brightness_and_noise() {
    let spec = SceneSpec::default();
    let backgrounds: Vec<Background> = (0..200).map(|seed| generate(seed, 32, &spec).background).collect();
    let levels: Vec<u8> = backgrounds.iter().map(|b| b.rgb[1]).collect();
    assert!(levels.iter().any(|&level| level < 60) && levels.iter().any(|&level| level > 200));
    let noisy = backgrounds.iter().filter(|b| b.noise_amplitude > 0).count();
    assert!((50..150).contains(&noisy), "{noisy} noisy of 200");
}

#[test]
fn invalid_spec_is_an_error() {
    let spec = SceneSpec { min_objects: 0, ..SceneSpec::default() };
    assert!(matches!(Scene::generate(1, 64, &spec), Err(SceneError::InvalidSpec(_))));
}

#[test]
fn dataset_files_round_trip() {
    let dir = std::env::temp_dir().join(format!("sightline-scene-test-{}", std::process::id()));
    let (count, size, seed) = (25, 40, 9);
    let spec = SceneSpec::default();
    let meta = write_dataset_with_previews(&dir, count, seed, size, &spec, 2).unwrap();
    assert_eq!(meta.single_captions, all_single_captions());

    let images = std::fs::read(dir.join(&meta.images_file)).unwrap();
    let image_bytes = (size * size * 3) as usize;
    assert_eq!(images.len(), count * image_bytes);
    let records: Vec<SceneRecord> =
        serde_json::from_slice(&std::fs::read(dir.join(&meta.scenes_file)).unwrap()).unwrap();
    let reread_meta: DatasetMeta = serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(reread_meta, meta);
    assert_eq!(records.len(), count);
    for ((record, scene_seed), image) in records.iter().zip(scene_seeds(seed, count)).zip(images.chunks(image_bytes)) {
        let scene = generate(scene_seed, size, &spec);
        assert_eq!(record, &SceneRecord::new(record.index, &scene));
        assert_eq!(record.seed, scene_seed);
        assert!(record.seed < 1 << f64::MANTISSA_DIGITS);
        assert_eq!(image, scene.image.as_raw().as_slice());
        for (object_record, object) in record.objects.iter().zip(&scene.objects) {
            assert_eq!(object_record.mask(size).as_ref(), Some(&object.mask));
        }
    }
    assert!(dir.join("preview_00001.png").exists() && !dir.join("preview_00002.png").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
