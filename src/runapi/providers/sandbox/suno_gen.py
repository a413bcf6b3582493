"""Suno's generators: music tracks, lyrics, stems, MIDI, WAV conversion, artwork, visualisation, personas,
voices; shaped like Suno's documented result bodies."""
