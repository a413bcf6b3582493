"""Suno's generators: music tracks, lyrics, stems, MIDI, WAV conversion, artwork, visualisation, personas,
voices; shaped like Suno's documented result bodies.

Everything is real and deterministic from the request:
- songs are synthesised (synth.py: drums, bass, chord pad and a formant "vocal" or lead line, arranged in bars
  at a tempo and key derived from the request and its style words) and encoded as MP3; every track gets a JPEG
  cover (visuals.py);
- extend / replace_section / cover / mashup / add_vocals / add_instrumental process the real source audio
  (music.py: continuation after `continue_at`, a re-composed section, the source melody re-sung over a new
  arrangement, band-swapped mix of two uploads, a vocal line or an accompaniment mixed over the upload);
- stems are STFT splits of the source (analysis.py: harmonic/percussive masks times frequency bands) that sum
  back to it; MIDI notes are transcribed from the stems (stems.py);
- WAV is the decoded source; the music video draws the track's real waveform with a moving playhead over the
  track's own audio; timestamped lyrics follow the track's real vocal-band energy (lyrics.py);
- personas and custom voices (voices.py).

Audio ids are uuid5 values derived from the request (same request, same ids) and every produced track is also
indexed in storage under its id (common.py), so `extend_music` can name a track by `audio_id` alone, as the docs
do. The signal processing shared with audio_gen lives in ../dsp.py.
"""

from . import lyrics, music, stems, visuals, voices  # noqa: F401  (register generators)
