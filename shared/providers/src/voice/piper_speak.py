# Piper reads sentences aloud for viral's Piper voice (shared/providers/src/voice/piper.rs).
# In: one JSON object on stdin, {"model": path, "speed": 0.5-2.0, "sentences": [text, ...]}.
# Out: one JSON line, {"sample_rate": n, "sentences": [{"samples": n, "words": [[start, end],
# ...]}, ...]}, where each word is a run of phonemes between Piper's word breaks, in samples
# from the start of its sentence; then the 16-bit little-endian mono PCM of every sentence,
# one after the other. Piper is GPL-3.0: it runs in this separate process, never linked.
import json
import sys

from piper import PiperVoice, SynthesisConfig

# Piper's sentence start, end and padding phonemes: no sound of a word.
MARKS = ("^", "$", "_")


def main():
    req = json.load(sys.stdin)
    voice = PiperVoice.load(req["model"])
    config = SynthesisConfig(length_scale=1.0 / float(req["speed"]))
    sentences, pcm = [], []
    for text in req["sentences"]:
        words, at = [], 0
        for chunk in voice.synthesize(text, syn_config=config, include_alignments=True):
            if chunk.phoneme_alignments is None:
                sys.exit("the voice model gives no alignments (run piper.patch_voice_with_alignment on it)")
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
    sys.stdout.write(json.dumps({"sample_rate": voice.config.sample_rate, "sentences": sentences}) + "\n")
    sys.stdout.flush()
    for audio in pcm:
        sys.stdout.buffer.write(audio)
    sys.stdout.buffer.flush()


main()
