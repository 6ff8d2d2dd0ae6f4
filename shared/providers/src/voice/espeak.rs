//! espeak-ng as a voice: its C library, loaded at run time (so nothing links it, and a Lambda
//! or a machine without it just has no offline voice), synthesising synchronously with a
//! callback that collects the samples and the WORD events (character position and time of
//! each word). Free and robotic: fine for previews and tests, not what a brand would post.
//!
//! The library keeps global state, so one synthesis runs at a time in a process.

use std::cell::RefCell;
use std::ffi::{CString, c_char, c_int, c_short, c_uint, c_void};
use std::sync::{Mutex, OnceLock};

use async_trait::async_trait;
use libloading::Library;
use viral_core::ports::ProviderError;
use viral_media::Speech;

use super::{SpeechRequest, Voice, sound_end, speakable, words_from_events};

/// `espeak_EVENT` from speak_lib.h.
#[repr(C)]
struct Event {
    kind: c_int,
    unique_identifier: c_uint,
    text_position: c_int,
    length: c_int,
    audio_position: c_int,
    sample: c_int,
    user_data: *mut c_void,
    id: [u8; 8],
}

const EVENT_LIST_TERMINATED: c_int = 0;
const EVENT_WORD: c_int = 1;
const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
/// Without it, espeak-ng calls `exit(1)` when its data does not load: the whole process.
const INITIALIZE_DONT_EXIT: c_int = 0x8000;
const POS_CHARACTER: c_int = 1;
const CHARS_UTF8: c_uint = 1;
const PARAM_RATE: c_int = 1;
/// espeak-ng's normal pace (words per minute).
const NORMAL_WPM: f64 = 175.0;

type SynthCallback = extern "C" fn(*mut c_short, c_int, *mut Event) -> c_int;

/// The library's entry points, resolved once.
struct Api {
    _lib: Library,
    sample_rate: u32,
    set_voice_by_name: unsafe extern "C" fn(*const c_char) -> c_int,
    set_parameter: unsafe extern "C" fn(c_int, c_int, c_int) -> c_int,
    synth: unsafe extern "C" fn(
        *const c_void,
        usize,
        c_uint,
        c_int,
        c_uint,
        c_uint,
        *mut c_uint,
        *mut c_void,
    ) -> c_int,
    synchronize: unsafe extern "C" fn() -> c_int,
}

/// What the callback collects during one synthesis (it runs on the calling thread).
#[derive(Default)]
struct Collected {
    samples: Vec<i16>,
    /// (character position, 0-based; time in ms) of each WORD event.
    words: Vec<(usize, i64)>,
}

thread_local! {
    static COLLECTED: RefCell<Collected> = RefCell::new(Collected::default());
}

extern "C" fn collect(wav: *mut c_short, n: c_int, events: *mut Event) -> c_int {
    COLLECTED.with(|c| {
        let mut c = c.borrow_mut();
        if !wav.is_null() && n > 0 {
            // SAFETY: espeak-ng hands over `n` samples at `wav`, valid for this call.
            let samples = unsafe { std::slice::from_raw_parts(wav, n as usize) };
            c.samples.extend_from_slice(samples);
        }
        let mut e = events;
        // SAFETY: the event list is terminated by an EVENT_LIST_TERMINATED entry.
        while !e.is_null() && unsafe { (*e).kind } != EVENT_LIST_TERMINATED {
            let ev = unsafe { &*e };
            if ev.kind == EVENT_WORD && ev.text_position > 0 && ev.length > 0 {
                c.words.push((
                    (ev.text_position - 1) as usize,
                    i64::from(ev.audio_position),
                ));
            }
            e = unsafe { e.add(1) };
        }
    });
    0
}

fn load() -> Option<Api> {
    // SAFETY: loading espeak-ng runs its (trivial) initialisers; the symbols below are
    // declared with the signatures speak_lib.h gives them.
    unsafe {
        let lib = Library::new("libespeak-ng.so.1").ok()?;
        let initialize: libloading::Symbol<
            unsafe extern "C" fn(c_int, c_int, *const c_char, c_int) -> c_int,
        > = lib.get(b"espeak_Initialize\0").ok()?;
        let set_callback: libloading::Symbol<unsafe extern "C" fn(SynthCallback)> =
            lib.get(b"espeak_SetSynthCallback\0").ok()?;
        let rate = initialize(
            AUDIO_OUTPUT_SYNCHRONOUS,
            500,
            std::ptr::null(),
            INITIALIZE_DONT_EXIT,
        );
        if rate <= 0 {
            return None;
        }
        set_callback(collect);
        let api = Api {
            sample_rate: rate as u32,
            set_voice_by_name: *lib.get(b"espeak_SetVoiceByName\0").ok()?,
            set_parameter: *lib.get(b"espeak_SetParameter\0").ok()?,
            synth: *lib.get(b"espeak_Synth\0").ok()?,
            synchronize: *lib.get(b"espeak_Synchronize\0").ok()?,
            _lib: lib,
        };
        // The sample rate comes back even when the data failed to load: a voice must load.
        (((api.set_voice_by_name)(c"en".as_ptr())) == 0).then_some(api)
    }
}

fn api() -> Option<&'static Mutex<Api>> {
    static API: OnceLock<Option<Mutex<Api>>> = OnceLock::new();
    API.get_or_init(|| load().map(Mutex::new)).as_ref()
}

/// The offline voice, when espeak-ng is installed.
pub struct Espeak {
    _private: (),
}

impl Espeak {
    /// `None` when the library is not installed (or does not start).
    pub fn load() -> Option<Self> {
        api().map(|_| Self { _private: () })
    }
}

fn speak_now(req: &SpeechRequest) -> Result<Speech, ProviderError> {
    let api = api().ok_or_else(|| ProviderError::Permanent("espeak-ng is not installed".into()))?;
    let api = api
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let voice = req.voice.clone().unwrap_or_else(|| req.language.clone());
    let voice = CString::new(voice)
        .map_err(|_| ProviderError::InvalidInput("a voice name with a NUL byte".into()))?;
    let text = CString::new(speakable(&req.text))
        .map_err(|_| ProviderError::InvalidInput("a script with a NUL byte".into()))?;
    let wpm = (NORMAL_WPM * req.speed).round() as c_int;
    COLLECTED.with(|c| *c.borrow_mut() = Collected::default());
    // SAFETY: the library was initialised in `load`; the calls run one at a time under the
    // lock, with NUL-terminated strings that outlive them.
    let status = unsafe {
        if (api.set_voice_by_name)(voice.as_ptr()) != 0 {
            return Err(ProviderError::InvalidInput(format!(
                "espeak-ng has no voice {:?}",
                voice.to_string_lossy()
            )));
        }
        (api.set_parameter)(PARAM_RATE, wpm, 0);
        let bytes = text.as_bytes_with_nul();
        let status = (api.synth)(
            bytes.as_ptr().cast(),
            bytes.len(),
            0,
            POS_CHARACTER,
            0,
            CHARS_UTF8,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        (api.synchronize)();
        status
    };
    if status != 0 {
        return Err(ProviderError::Transient(format!(
            "espeak-ng synthesis failed (status {status})"
        )));
    }
    let collected = COLLECTED.with(|c| std::mem::take(&mut *c.borrow_mut()));
    let rate = api.sample_rate;
    let samples: Vec<f32> = collected
        .samples
        .iter()
        .map(|s| f32::from(*s) / 32_768.0)
        .collect();
    let sound_end = sound_end(&samples, rate);
    let events: Vec<(usize, f64)> = collected
        .words
        .iter()
        .map(|&(pos, ms)| (pos, ms as f64 / 1000.0))
        .collect();
    let words = words_from_events(&req.text, &events, sound_end);
    Ok(Speech {
        sample_rate: rate,
        samples,
        words,
    })
}

#[async_trait]
impl Voice for Espeak {
    fn name(&self) -> &'static str {
        "espeak"
    }

    fn price_cents_per_1k_chars(&self) -> f64 {
        0.0
    }

    async fn speak(&self, req: &SpeechRequest) -> Result<Speech, ProviderError> {
        req.check()?;
        let req = req.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| speak_now(&req)))
            .await
            .map_err(|e| ProviderError::Transient(format!("speech task failed: {e}")))?
    }
}
