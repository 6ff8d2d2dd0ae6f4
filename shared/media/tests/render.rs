//! The storyboard renderer produces an MP4 that our probe reads back as what was asked for.

use viral_media::{Beat, Platform, RenderSpec, Storyboard, probe, render, validate};

fn storyboard() -> Storyboard {
    Storyboard {
        hook: "Nobody tells you this about cold brew".into(),
        beats: vec![
            Beat {
                text: "Steep it 18 hours, not 12: the bitterness drops by half".into(),
                duration_s: 4.0,
            },
            Beat {
                text: "Filter twice. Paper, then cloth.".into(),
                duration_s: 4.0,
            },
            Beat {
                text: "Follow for part 2: the ice trick".into(),
                duration_s: 5.0,
            },
        ],
        seed: 7,
    }
}

#[test]
fn renders_a_valid_vertical_h264_mp4() {
    let started = std::time::Instant::now();
    let bytes = render(&storyboard(), &RenderSpec::vertical(15.0)).expect("render");
    let took = started.elapsed();
    let p = probe(&bytes).expect("probe");
    eprintln!("rendered 15 s in {took:?}: {p:?}");
    assert_eq!(p.video_codec, "h264");
    assert_eq!((p.width, p.height), (1080, 1920));
    assert!((p.duration_s - 15.0).abs() <= 0.5, "{}", p.duration_s);
    assert!((p.fps - 30.0).abs() < 0.5, "{}", p.fps);
    assert_eq!(p.frames, 450);
    let reports = validate(&p, &Platform::ALL);
    assert!(reports.iter().all(|r| r.pass), "{reports:?}");
    std::fs::write(
        std::env::temp_dir().join("viral-storyboard-test.mp4"),
        &bytes,
    )
    .unwrap();
}

#[test]
fn bad_storyboards_are_refused() {
    let mut sb = storyboard();
    sb.hook = String::new();
    assert!(render(&sb, &RenderSpec::vertical(15.0)).is_err());
    assert!(
        render(
            &storyboard(),
            &RenderSpec {
                width: 1081,
                ..RenderSpec::vertical(15.0)
            }
        )
        .is_err()
    );
    assert!(render(&storyboard(), &RenderSpec::vertical(f64::NAN)).is_err());
    let mut sb = storyboard();
    sb.beats[0].duration_s = -1.0;
    assert!(render(&sb, &RenderSpec::vertical(15.0)).is_err());
}
