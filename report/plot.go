package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure size and resolution.
const (
	figWidth  = 8 * vg.Inch
	figHeight = 4.5 * vg.Inch
	pngDPI    = 120 // 960 x 540 pixels
)

// palette is Tableau 10: distinguishable, and readable on white. An
// architecture keeps its colour in every figure of a run; past ten, lines
// are dashed as well.
var palette = []color.RGBA{
	{0x4e, 0x79, 0xa7, 0xff}, {0xf2, 0x8e, 0x2b, 0xff}, {0xe1, 0x57, 0x59, 0xff}, {0x76, 0xb7, 0xb2, 0xff},
	{0x59, 0xa1, 0x4f, 0xff}, {0xed, 0xc9, 0x48, 0xff}, {0xb0, 0x7a, 0xa1, 0xff}, {0xff, 0x9d, 0xa7, 0xff},
	{0x9c, 0x75, 0x5f, 0xff}, {0xba, 0xb0, 0xac, 0xff},
}

var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.RingGlyph{},
	draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PlusGlyph{}, draw.CrossGlyph{},
}

// render draws c as "svg" or "png". gonum/plot panics on some inputs (a
// non-positive value on a log axis, an empty range); render turns a panic
// into an error, although the chart builders already keep such values out.
func (c chart) render(format string) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, fmt.Errorf("plot %q: %v", c.title, p)
		}
	}()
	var cv interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch format {
	case "svg":
		cv = vgsvg.New(figWidth, figHeight)
	case "png":
		cv = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(figWidth, figHeight), vgimg.UseDPI(pngDPI))}
	default:
		return nil, fmt.Errorf("plot: unknown format %q", format)
	}
	dc := draw.New(cv)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())

	p := plot.New()
	sans(&p.Title.TextStyle.Font, 13)
	sans(&p.X.Label.TextStyle.Font, 11)
	sans(&p.Y.Label.TextStyle.Font, 11)
	sans(&p.X.Tick.Label.Font, 10)
	sans(&p.Y.Tick.Label.Font, 10)
	p.Title.Text = c.title
	p.X.Label.Text, p.Y.Label.Text = c.xLabel, c.yLabel
	for _, ax := range []struct {
		a   *plot.Axis
		def axis
	}{{&p.X, c.x}, {&p.Y, c.y}} {
		// Adding a plotter later only widens the range to fit its data.
		ax.a.Min, ax.a.Max = ax.def.min, ax.def.max
		ax.a.Tick.Marker = plot.ConstantTicks(ax.def.ticks)
		if ax.def.log {
			ax.a.Scale = plot.LogScale{}
		}
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 0xe0}
	grid.Horizontal.Color = color.Gray{Y: 0xe0}
	p.Add(grid)

	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	sans(&legend.TextStyle.Font, 11)
	legend.Padding = vg.Points(3)
	for _, s := range c.series {
		line, err := plotter.NewLine(s.pts)
		if err != nil {
			return nil, fmt.Errorf("plot %q: %s: %w", c.title, s.name, err)
		}
		line.Color = palette[s.style%len(palette)]
		line.Width = vg.Points(1.75)
		if s.style >= len(palette) {
			line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		p.Add(line)
		thumbs := []plot.Thumbnailer{line}
		if c.glyphs {
			sc, err := plotter.NewScatter(s.pts)
			if err != nil {
				return nil, fmt.Errorf("plot %q: %s: %w", c.title, s.name, err)
			}
			sc.Color = line.Color
			sc.Shape = glyphs[s.style%len(glyphs)]
			sc.Radius = vg.Points(3)
			if s.extra != nil {
				sc.GlyphStyleFunc = func(i int) draw.GlyphStyle {
					g := sc.GlyphStyle
					if s.extra[i].hollow {
						g.Shape = hollowGlyph{}
					}
					return g
				}
				if bars, err := errorBars(s); err != nil {
					return nil, fmt.Errorf("plot %q: %s: %w", c.title, s.name, err)
				} else if bars != nil {
					bars.Color = line.Color
					bars.Width = vg.Points(1)
					bars.CapWidth = vg.Points(5)
					p.Add(bars)
				}
			}
			p.Add(sc)
			thumbs = append(thumbs, scatterThumb{sc.GlyphStyle})
		}
		legend.Add(s.name, thumbs...)
	}

	// The legend gets its own strip right of the plot, so it never hides data.
	const gap = vg.Length(8)
	lw := legend.Rectangle(dc).Size().X + 2*gap
	p.Draw(draw.Crop(dc, 0, -lw, 0, -gap/2))
	legend.Draw(draw.Crop(dc, figWidth-lw+gap, -gap, 0, -gap-p.Title.TextStyle.Font.Size))

	var b bytes.Buffer
	if _, err := cv.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("plot %q: write %s: %w", c.title, format, err)
	}
	return b.Bytes(), nil
}

// errorBars are s's intervals as gonum error bars, or nil without any.
func errorBars(s series) (*plotter.YErrorBars, error) {
	var bars yErrors
	for i, e := range s.extra {
		if math.IsNaN(e.lo) || math.IsNaN(e.hi) {
			continue
		}
		p := s.pts[i]
		bars.XYs = append(bars.XYs, p)
		bars.YErrors = append(bars.YErrors, struct{ Low, High float64 }{math.Max(0, p.Y-e.lo), math.Max(0, e.hi-p.Y)})
	}
	if len(bars.XYs) == 0 {
		return nil, nil
	}
	return plotter.NewYErrorBars(bars)
}

// yErrors are points with their distances down and up to each interval's ends.
type yErrors struct {
	plotter.XYs
	plotter.YErrors
}

// hollowGlyph is the marker of a point whose row had errors or starved
// connections: a disc of the series' colour, larger than the other markers,
// with a white centre (gonum's RingGlyph is a hairline, too faint to see).
type hollowGlyph struct{}

func (hollowGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	outer, inner := sty, sty
	outer.Radius = sty.Radius * 1.5
	inner.Color, inner.Radius = color.White, sty.Radius*0.8
	c.DrawGlyphNoClip(draw.GlyphStyle{Color: outer.Color, Radius: outer.Radius, Shape: draw.CircleGlyph{}}, pt)
	c.DrawGlyphNoClip(draw.GlyphStyle{Color: inner.Color, Radius: inner.Radius, Shape: draw.CircleGlyph{}}, pt)
}

// scatterThumb is a legend thumbnail with the series' own glyph, whatever
// shape a point takes.
type scatterThumb struct{ sty draw.GlyphStyle }

func (t scatterThumb) Thumbnail(c *draw.Canvas) {
	c.DrawGlyph(t.sty, c.Center())
}

// sans sets f to Liberation Sans (metrically Arial and Helvetica, the
// browsers' fallbacks in the SVG) of the given size in points; gonum/plot
// defaults to its serif.
func sans(f *font.Font, size float64) {
	f.Typeface, f.Variant, f.Size = "Liberation", "Sans", vg.Points(size)
}
