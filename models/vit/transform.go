package vit

import "fmt"

// readTransform sets Config.CropPct and Interpolation from the
// checkpoint's own preprocessing, so that glora feeds a pretrained model
// images prepared as it was evaluated:
//
//	timm          pretrained_cfg: crop_pct with crop_mode "center" (or
//	              absent): the shorter side to floor(size/crop_pct), the
//	              centre cut out; interpolation "bicubic" or "bilinear"
//	transformers  preprocessor_config.json: do_center_crop with
//	              size.shortest_edge S and crop_size C: crop C/S; otherwise
//	              a resize to size (a squash); resample 2 (bilinear) or 3
//	              (bicubic)
//
// A model glora wrote without them (the shipped backbone, a preset) is
// squashed with bicubic resampling, as glora trained it.
func (ck *Checkpoint) readTransform() error {
	c := &ck.Config
	c.CropPct, c.Interpolation = 0, ""
	if ck.Dialect == Timm {
		pc, _ := ck.Extra["pretrained_cfg"].(map[string]any)
		if pc == nil {
			return nil
		}
		if v, ok, err := getString(pc, "interpolation"); err != nil {
			return fmt.Errorf("pretrained_cfg: %w", err)
		} else if ok && v == "bilinear" {
			c.Interpolation = v
		}
		mode, _, err := getString(pc, "crop_mode")
		if err != nil {
			return fmt.Errorf("pretrained_cfg: %w", err)
		}
		pct, ok, err := getFloat(pc, "crop_pct")
		switch {
		case err != nil:
			return fmt.Errorf("pretrained_cfg: %w", err)
		case !ok || mode != "" && mode != "center":
			return nil // squash (crop modes other than center are not followed)
		case !(pct > 0 && pct <= 1):
			return fmt.Errorf("pretrained_cfg: crop_pct %g: want a fraction in (0, 1]", pct)
		}
		c.CropPct = pct
		return nil
	}
	p := ck.Preprocessor
	if p == nil {
		return nil
	}
	if r, ok, err := getInt(p, "resample"); err != nil {
		return fmt.Errorf("%s: %w", PreprocessorFile, err)
	} else if ok && r == 2 {
		c.Interpolation = "bilinear"
	}
	crop, _, err := getBool(p, "do_center_crop")
	if err != nil || !crop {
		return err
	}
	size, _ := p["size"].(map[string]any)
	short, ok1, err1 := getInt(size, "shortest_edge")
	cs, ok2, err2 := sizeOf(p["crop_size"])
	switch {
	case err1 != nil:
		return fmt.Errorf("%s: size: %w", PreprocessorFile, err1)
	case err2 != nil:
		return fmt.Errorf("%s: crop_size: %w", PreprocessorFile, err2)
	case !ok1 || !ok2:
		return nil // a crop glora cannot place: squash
	case !(cs > 0 && cs <= short):
		return fmt.Errorf("%s: crop_size %d and size.shortest_edge %d: want 0 < crop ≤ shortest edge", PreprocessorFile, cs, short)
	}
	c.CropPct = float64(cs) / float64(short)
	return nil
}

// sizeOf reads a square size: a number or {"height": S, "width": S}.
func sizeOf(v any) (int, bool, error) {
	switch s := v.(type) {
	case nil:
		return 0, false, nil
	case map[string]any:
		h, ok1, err1 := getInt(s, "height")
		w, ok2, err2 := getInt(s, "width")
		if err1 != nil || err2 != nil || !ok1 || !ok2 || h != w {
			return 0, false, fmt.Errorf("%v: want a square {height, width}", v)
		}
		return h, true, nil
	}
	n, ok, err := getInt(map[string]any{"v": v}, "v")
	return n, ok, err
}
