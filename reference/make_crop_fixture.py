#!/usr/bin/env python3
"""Writes data/testdata/timm_crop.json: timm's evaluation transform (crop_mode
"center") done with PIL the way torchvision does it on PIL images, for
data/resize_test.go's TestResizeCropMatchesTimm.

    Resize(floor(size / crop_pct))  # the shorter side, the longer int(s * long / short)
    CenterCrop(size)                # corner int(round((H - size) / 2))

Run with Debian's python3 and python3-pil: /usr/bin/python3 reference/make_crop_fixture.py
"""
import json, math, random
from PIL import Image

random.seed(7)
cases = []
for (h, w) in [(37, 53), (53, 37), (30, 30)]:
    # A smooth picture with a little noise, as photos are: on pure noise
    # bicubic overshoots past 0 and 255, and PIL clips between its two
    # passes where glora keeps floats, which this fixture is not about.
    src = [max(0, min(255, int(128 + 60 * math.sin(x / 3) + 50 * math.cos(y / 4) + random.randint(-8, 8))))
           for y in range(h) for x in range(w)]
    im = Image.new("L", (w, h))
    im.putdata(src)
    for size, pct, interp in [(24, 0.9, "bicubic"), (24, 0.875, "bilinear"), (16, 1.0, "bicubic")]:
        s = math.floor(size / pct)
        if h <= w:
            nh, nw = s, int(s * w / h)
        else:
            nh, nw = int(s * h / w), s
        mode = Image.BICUBIC if interp == "bicubic" else Image.BILINEAR
        r = im.resize((nw, nh), mode)
        top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
        out = r.crop((left, top, left + size, top + size))
        cases.append({"H": h, "W": w, "Src": src, "Size": size, "Pct": pct, "Interp": interp, "Out": list(out.getdata())})
with open("data/testdata/timm_crop.json", "w") as f:
    json.dump(cases, f)
print(len(cases), "cases")
