"""Suno's words: style vocabulary, generated lyrics ([Verse] / [Chorus] ...), tags, titles, sung words and
validation phrases."""

from __future__ import annotations

import random
import re
from typing import Any

from .common import _rng

STOP = {
    "a",
    "an",
    "the",
    "and",
    "or",
    "of",
    "to",
    "in",
    "on",
    "with",
    "for",
    "at",
    "by",
    "from",
    "into",
    "onto",
    "is",
    "are",
    "be",
    "been",
    "was",
    "were",
    "my",
    "your",
    "our",
    "their",
    "his",
    "her",
    "its",
    "it",
    "this",
    "that",
    "these",
    "those",
    "as",
    "so",
    "very",
    "some",
    "any",
    "about",
    "song",
    "songs",
    "music",
    "track",
    "tracks",
    "beat",
    "beats",
    "sound",
    "sounds",
    "soft",
    "make",
    "made",
    "create",
    "want",
    "like",
    "just",
    "more",
    "most",
    "over",
    "under",
    "using",
    "use",
    "feat",
    "featuring",
    "vocal",
    "vocals",
    "voice",
}


GENRES = [
    "lo-fi",
    "lofi",
    "pop",
    "rock",
    "jazz",
    "classical",
    "edm",
    "electronic",
    "hip hop",
    "hip-hop",
    "rap",
    "r&b",
    "ambient",
    "folk",
    "country",
    "metal",
    "punk",
    "blues",
    "soul",
    "funk",
    "reggae",
    "disco",
    "house",
    "techno",
    "trap",
    "indie",
    "acoustic",
    "orchestral",
    "cinematic",
    "piano",
    "synthwave",
    "k-pop",
    "latin",
    "gospel",
    "ballad",
    "dance",
]


MOODS = [
    "chill",
    "relaxing",
    "upbeat",
    "dreamy",
    "melancholic",
    "energetic",
    "romantic",
    "mysterious",
    "epic",
    "peaceful",
    "dark",
    "happy",
    "nostalgic",
    "groovy",
    "soothing",
    "uplifting",
    "calm",
    "electrifying",
]


FAST_WORDS = (
    "rock",
    "edm",
    "dance",
    "punk",
    "metal",
    "upbeat",
    "electro",
    "techno",
    "house",
    "drum",
    "energetic",
    "electrifying",
    "disco",
    "trap",
)


SLOW_WORDS = (
    "chill",
    "lo-fi",
    "lofi",
    "ambient",
    "ballad",
    "calm",
    "relax",
    "piano",
    "classical",
    "peaceful",
    "sleep",
    "jazz",
    "soothing",
    "meditation",
    "lullaby",
)


MINOR_WORDS = ("sad", "dark", "minor", "melanch", "mysterious", "night", "moody", "blues", "rain")


EN_VERSE = [
    "{A} lights are glowing on the {B}",
    "I keep on walking through the {B}",
    "Every {A} whispers out your name",
    "We were dancing where the {B} begins",
    "Hold on to the {A} tonight",
    "{A} and {C} skies, we carry on",
    "Underneath the {C} sky",
    "Nothing ever felt so {C}",
    "Turn it up and let the {A} in",
    "All the {A} is fading into {B}",
    "Say it softly, say it slow",
    "Time is drifting like the {B}",
]


EN_CHORUS = [
    "Oh {A}, {A}, don't let go",
    "We're alive in the {C} {B}",
    "Sing it loud, sing it {C}",
    "This is where the {A} belongs",
    "Light me up like {A}",
    "Take me higher through the {B}",
]


EN_BRIDGE = [
    "Maybe we will find the way",
    "When the {A} falls silent",
    "Close your eyes and count to three",
    "Every road leads back to {B}",
]


EN_A = ["city", "moonlight", "heartbeat", "river", "summer", "midnight", "ocean", "fire", "dream", "starlight"]


EN_B = ["city", "street", "ocean", "night", "skyline", "rain", "highway", "garden", "window", "morning"]


EN_C = ["golden", "quiet", "electric", "gentle", "endless", "shining", "restless", "tender"]


ZH_VERSE = [
    "{A}的夜晚 灯火辉煌",
    "我在{B}里慢慢走",
    "风吹过{B}的尽头",
    "心跳随着{A}回响",
    "月光洒满{B}",
    "把{A}藏进梦里",
    "这一刻 {C}的光",
    "我们唱着{A}的歌",
]


ZH_CHORUS = ["啊 {A} 不要走", "让{C}的心飞翔", "唱吧 在{B}中央", "这是{A}的方向"]


ZH_BRIDGE = ["也许我们会找到路", "当{A}安静下来", "闭上眼睛 数到三"]


ZH_A = ["城市", "星光", "梦想", "海风", "青春", "夜色"]


ZH_NOUNS = [
    "城市",
    "夜晚",
    "夜色",
    "星光",
    "星空",
    "梦想",
    "海风",
    "大海",
    "青春",
    "月光",
    "爱情",
    "故乡",
    "雨夜",
    "灯火",
    "花开",
    "时光",
    "远方",
    "家乡",
    "春天",
    "夏天",
    "秋天",
    "冬天",
    "钢铁侠",
    "英雄",
    "自由",
]


ZH_B = ["城市", "街角", "海边", "夜空", "雨中"]


ZH_C = ["温柔", "闪亮", "自由", "炽热"]


STYLE_BOOST = {
    "pop": ["Upbeat", "Catchy hooks", "Polished production", "Bright synths"],
    "rock": ["Driving guitars", "Punchy drums", "Anthemic chorus", "Gritty vocals"],
    "jazz": ["Swing rhythm", "Walking bass", "Smoky saxophone", "Brushed drums"],
    "classical": ["Orchestral strings", "Expressive dynamics", "Grand piano", "Cinematic swells"],
    "lo-fi": ["Dusty vinyl crackle", "Laid-back drums", "Warm Rhodes", "Mellow"],
    "electronic": ["Synth-driven", "Pulsing bass", "Four-on-the-floor", "Glittering arpeggios"],
    "hip hop": ["Boom-bap drums", "Deep 808s", "Rhythmic flow", "Vinyl samples"],
    "folk": ["Acoustic guitar", "Warm harmonies", "Storytelling", "Organic percussion"],
    "ambient": ["Atmospheric pads", "Slow evolving textures", "Reverb-drenched", "Spacious"],
    "mysterious": ["Electronic", "Minor key", "Haunting melody", "Dark undertones"],
    "sad": ["Melancholic", "Minor key", "Emotional vocals", "Sparse piano"],
    "happy": ["Upbeat", "Major key", "Handclaps", "Sunny melody"],
}


STYLE_GENERIC = [
    "Upbeat",
    "Electronic",
    "Synth-driven",
    "Catchy hooks",
    "Atmospheric",
    "Punchy drums",
    "Warm bass",
    "Lush harmonies",
    "Modern production",
    "Dynamic build",
    "Wide stereo",
    "Groovy",
]


PHRASES = {
    "en": [
        "Harmonies fill the air with joyful melodies tonight",
        "Silver echoes drift across the midnight ocean",
        "Golden light dances softly over quiet rivers",
        "Every gentle rhythm carries my voice home",
        "Bright stars hum a tender song above the city",
        "Warm winds sing through the open summer fields",
        "Soft piano notes wander through the evening rain",
        "Morning bells ring clearly over the green hills",
    ],
    "zh": [
        "和声在今夜的空气中轻轻回荡",
        "银色的回声飘过午夜的海洋",
        "金色的光在安静的河面上跳舞",
        "每一段温柔的节奏都带我回家",
        "明亮的星星在城市上空低声歌唱",
        "温暖的风吹过开阔的夏日田野",
    ],
    "es": [
        "Las armonías llenan el aire de melodías alegres esta noche",
        "Ecos plateados cruzan el océano de medianoche",
        "La luz dorada baila suave sobre ríos tranquilos",
        "Cada ritmo tierno lleva mi voz a casa",
        "Las estrellas cantan una canción sobre la ciudad",
        "El viento cálido canta en los campos de verano",
    ],
    "fr": [
        "Les harmonies remplissent l'air de mélodies joyeuses ce soir",
        "Des échos argentés dérivent sur l'océan",
        "La lumière dorée danse doucement sur les rivières",
        "Chaque rythme tendre ramène ma voix chez moi",
        "Les étoiles fredonnent une chanson au-dessus de la ville",
        "Le vent chaud chante dans les champs d'été",
    ],
    "pt": [
        "As harmonias enchem o ar de melodias alegres esta noite",
        "Ecos prateados cruzam o oceano da meia-noite",
        "A luz dourada dança suave sobre rios tranquilos",
        "Cada ritmo terno leva a minha voz para casa",
        "As estrelas cantam uma canção sobre a cidade",
        "O vento quente canta nos campos de verão",
    ],
    "de": [
        "Harmonien füllen heute Abend die Luft mit fröhlichen Melodien",
        "Silberne Echos treiben über den Ozean",
        "Goldenes Licht tanzt sanft über stillen Flüssen",
        "Jeder sanfte Rhythmus trägt meine Stimme heim",
        "Helle Sterne summen ein Lied über der Stadt",
        "Warmer Wind singt über den Sommerfeldern",
    ],
    "ja": [
        "今夜はハーモニーが楽しいメロディーで空気を満たす",
        "銀色のこだまが真夜中の海を渡っていく",
        "金色の光が静かな川の上でそっと踊る",
        "やさしいリズムが私の声を家へ運ぶ",
        "明るい星が街の上で優しい歌を口ずさむ",
        "暖かい風が夏の野原で歌っている",
    ],
    "ko": [
        "오늘 밤 화음이 즐거운 멜로디로 공기를 채워요",
        "은빛 메아리가 한밤의 바다를 건너가요",
        "황금빛이 고요한 강 위에서 부드럽게 춤춰요",
        "모든 부드러운 리듬이 내 목소리를 집으로 데려가요",
        "밝은 별들이 도시 위에서 노래를 흥얼거려요",
        "따뜻한 바람이 여름 들판에서 노래해요",
    ],
    "hi": [
        "आज रात सुरीली धुनें हवा को खुशी से भर देती हैं",
        "चांदी जैसी गूंज आधी रात के सागर पर बहती है",
        "सुनहरी रोशनी शांत नदियों पर धीरे से नाचती है",
        "हर कोमल लय मेरी आवाज़ को घर ले जाती है",
        "चमकते तारे शहर के ऊपर मधुर गीत गुनगुनाते हैं",
        "गर्म हवा गर्मियों के खेतों में गाती है",
    ],
    "ru": [
        "Гармонии наполняют воздух радостными мелодиями этой ночью",
        "Серебряное эхо плывёт над полуночным океаном",
        "Золотой свет мягко танцует над тихими реками",
        "Каждый нежный ритм несёт мой голос домой",
        "Яркие звёзды напевают песню над городом",
        "Тёплый ветер поёт над летними полями",
    ],
}


def _is_cjk(text: str) -> bool:
    return bool(re.search(r"[\u3040-\u30ff\u4e00-\u9fff\uac00-\ud7af]", text or ""))


def _keywords(text: str | None) -> list[str]:
    out: list[str] = []
    for w in re.findall(r"[A-Za-z][A-Za-z'\-]+|[\u4e00-\u9fff]+", text or ""):
        lw = w.lower()
        if lw in STOP or (len(w) < 3 and not _is_cjk(w)):
            continue
        if lw not in [o.lower() for o in out]:
            out.append(w if _is_cjk(w) else lw)
    return out


def _style_words(*texts: str | None) -> list[str]:
    low = " ".join(t for t in texts if t).lower()
    return [g for g in GENRES + MOODS if re.search(r"(?<![a-z])" + re.escape(g) + r"(?![a-z])", low)]


def _tags(style: str | None, prompt: str | None, rng: random.Random) -> list[str]:
    if style and style.strip():
        parts = [p.strip() for p in re.split(r"[,，/;|]+", style) if p.strip()]
        if parts:
            return parts[:8]
    found = _style_words(prompt)
    while len(found) < 2:
        pick = rng.choice(MOODS)
        if pick not in found:
            found.append(pick)
    return found[:4]


def _title(title: str | None, *sources: str | None, rng: random.Random) -> str:
    if title and title.strip():
        return title.strip()
    for text in sources:
        if text and _is_cjk(text):
            nouns = [w for w in ZH_NOUNS if w in text]
            if nouns:
                return "".join(nouns[:2])
        kws = [k for k in _keywords(text) if k.lower() not in GENRES + MOODS] or _keywords(text)
        if kws:
            if _is_cjk(kws[0]):
                return kws[0][:8]
            return " ".join(k.capitalize() for k in kws[:3])
    return rng.choice(["Midnight Drive", "Golden Hour", "Paper Planes", "Neon Rain", "Slow Motion", "Afterglow"])


def _fill(template: str, rng: random.Random, a: list[str], b: list[str], c: list[str]) -> str:
    line = template.format(A=rng.choice(a), B=rng.choice(b), C=rng.choice(c))
    return line[:1].upper() + line[1:]


def _write_lyrics(seed: bytes, brief: str | None, sections: list[str]) -> str:
    """Structured lyrics ([Verse] / [Chorus] / ...) built around the brief's keywords, in its script."""
    rng = _rng(seed)
    kws = _keywords(brief)
    zh = _is_cjk(brief or "")
    if zh:
        a = [w for w in ZH_NOUNS if w in (brief or "")] or ZH_A
        b, c, verse, chorus, bridge = ZH_B, ZH_C, ZH_VERSE, ZH_CHORUS, ZH_BRIDGE
    else:
        a = [k for k in kws if not _is_cjk(k) and k not in GENRES + MOODS][:6] or EN_A
        b, c, verse, chorus, bridge = EN_B, EN_C, EN_VERSE, EN_CHORUS, EN_BRIDGE
    chorus_lines = [_fill(t, rng, a, b, c) for t in rng.sample(chorus, 4)]
    blocks = []
    for name in sections:
        if name.startswith("Chorus"):
            lines = chorus_lines
        elif name.startswith(("Bridge", "Outro")):
            lines = [_fill(t, rng, a, b, c) for t in rng.sample(bridge, 2)]
        else:
            lines = [_fill(t, rng, a, b, c) for t in rng.sample(verse, 4)]
        blocks.append(f"[{name}]\n" + "\n".join(lines))
    return "\n\n".join(blocks)


def _lyric_words(lyrics: str | None) -> list[str]:
    """Sung words; a section header is attached to the first word after it, as Suno's aligned words do."""
    words: list[str] = []
    pending = ""
    for line in (lyrics or "").splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.fullmatch(r"\[([^\]]+)\]\s*(.*)", line)
        if m:
            if m.group(1).strip().lower() in ("instrumental", "inst"):
                continue
            pending = f"[{m.group(1)}]\n"
            line = m.group(2)
            if not line:
                continue
        for w in line.split():
            words.append(pending + w)
            pending = ""
    return words


def _lyrics_for(seed: bytes, vocal_mode: str | None, p: dict[str, Any], brief: str | None) -> str:
    """Given lyrics are sung (in exact_lyrics, and in auto_lyrics too when sent); else written from the brief."""
    lyrics = p.get("lyrics")
    if vocal_mode == "instrumental":
        return "[Instrumental]"
    if lyrics:
        return str(lyrics)
    return _write_lyrics(seed, brief, ["Verse", "Chorus"])


def _phrase_language(phrase: str) -> str:
    for lang, phrases in PHRASES.items():
        if phrase in phrases:
            return lang
    return "en"
