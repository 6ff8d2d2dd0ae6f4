# Piper reads sentences aloud for viral's Piper voice (shared/providers/src/voice/piper.rs).
# It stays running: each request is one JSON line on stdin,
#   {"model": path, "speed": 0.5-2.0, "sentences": [text, ...]},
# and each answer one JSON line on stdout,
#   {"sample_rate": n, "bytes": n, "sentences": [{"samples": n, "words": [[start, end], ...]}]}
# (or {"error": message}), followed by `bytes` bytes of 16-bit little-endian mono PCM: every
# sentence's audio, one after the other. A word is a run of phonemes between Piper's word
# breaks, in samples from the start of its sentence. Voices stay loaded between requests.
# Piper is GPL-3.0: it runs in this separate process, never linked.
import json
import sys

from piper import PiperVoice, SynthesisConfig

# Piper's sentence start, end and padding phonemes: no sound of a word.
MARKS = ("^", "$", "_")


def speak(voice, req):
    config = SynthesisConfig(length_scale=1.0 / float(req["speed"]))
    sentences, pcm = [], []
    for text in req["sentences"]:
        words, at = [], 0
        for chunk in voice.synthesize(text, syn_config=config, include_alignments=True):
            if chunk.phoneme_alignments is None:
                raise ValueError("the voice model gives no alignments (run piper.patch_voice_with_alignment on it)")
            word, pos = None, at
            for a in chunk.phoneme_alignments:
                n = int(a.num_samples)
                if a.phoneme == " ":
                    word = None
                elif a.phoneme not in MARKS:
                    if word is None:
                        word = [pos, pos]
                        words.append(word)
                    word[1] = pos + n
                pos += n
            audio = chunk.audio_int16_bytes
            pcm.append(audio)
            at += len(audio) // 2
        sentences.append({"samples": at, "words": words})
    audio = b"".join(pcm)
    head = {"sample_rate": voice.config.sample_rate, "bytes": len(audio), "sentences": sentences}
    return head, audio


def main():
    voices = {}
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        try:
            req = json.loads(line)
            model = req["model"]
            if model not in voices:
                voices[model] = PiperVoice.load(model)
            head, audio = speak(voices[model], req)
        except Exception as e:  # one bad request must not end the voice
            head, audio = {"error": f"{type(e).__name__}: {e}"}, b""
        out.write((json.dumps(head) + "\n").encode())
        out.write(audio)
        out.flush()


main()
