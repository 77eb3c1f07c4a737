//! Plane geometry of faces: points, boxes and similarity transforms (rotation, uniform scale,
//! translation), with tested inverses.

/// A point in pixel coordinates (x right, y down; pixel centres at integer + 0.5 for sampling
/// purposes is NOT assumed: a pixel `(i, j)` is sampled at `(i, j)`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point2 {
    pub x: f32,
    pub y: f32,
}

impl Point2 {
    pub const fn new(x: f32, y: f32) -> Self {
        Point2 { x, y }
    }

    pub fn dist(self, o: Point2) -> f32 {
        ((self.x - o.x).powi(2) + (self.y - o.y).powi(2)).sqrt()
    }
}

/// An axis-aligned box by its corners, `x1 <= x2`, `y1 <= y2`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub const fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        BBox { x1, y1, x2, y2 }
    }

    /// The part inside a `width` x `height` image (a face at the border is detected partly
    /// outside it); empty boxes stay empty at the nearest edge.
    pub fn clipped(&self, width: usize, height: usize) -> BBox {
        let (w, h) = (width as f32, height as f32);
        let x1 = self.x1.clamp(0.0, w);
        let y1 = self.y1.clamp(0.0, h);
        BBox {
            x1,
            y1,
            x2: self.x2.clamp(x1, w),
            y2: self.y2.clamp(y1, h),
        }
    }

    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    pub fn center(&self) -> Point2 {
        Point2::new((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)
    }

    /// Intersection over union; 0 when both are empty.
    pub fn iou(&self, o: &BBox) -> f32 {
        let inter = BBox::new(
            self.x1.max(o.x1),
            self.y1.max(o.y1),
            self.x2.min(o.x2),
            self.y2.min(o.y2),
        )
        .area();
        let union = self.area() + o.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }

    /// The box scaled about the origin (image resizing).
    pub fn scaled(&self, sx: f32, sy: f32) -> BBox {
        BBox::new(self.x1 * sx, self.y1 * sy, self.x2 * sx, self.y2 * sy)
    }
}

/// `p -> s * R(theta) * p + t`, stored as `a = s cos(theta)`, `b = s sin(theta)`:
/// `x' = a x - b y + tx`, `y' = b x + a y + ty`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity2 {
    pub a: f32,
    pub b: f32,
    pub tx: f32,
    pub ty: f32,
}

impl Similarity2 {
    pub const IDENTITY: Similarity2 = Similarity2 {
        a: 1.0,
        b: 0.0,
        tx: 0.0,
        ty: 0.0,
    };

    pub fn new(scale: f32, angle_rad: f32, tx: f32, ty: f32) -> Self {
        Similarity2 {
            a: scale * angle_rad.cos(),
            b: scale * angle_rad.sin(),
            tx,
            ty,
        }
    }

    pub fn scale(&self) -> f32 {
        self.a.hypot(self.b)
    }

    pub fn apply(&self, p: Point2) -> Point2 {
        Point2::new(
            self.a * p.x - self.b * p.y + self.tx,
            self.b * p.x + self.a * p.y + self.ty,
        )
    }

    /// The inverse transform; `None` for a degenerate (zero-scale) one.
    pub fn inverse(&self) -> Option<Similarity2> {
        let d = self.a * self.a + self.b * self.b;
        if d <= f32::EPSILON * f32::EPSILON || !d.is_finite() {
            return None;
        }
        let (a, b) = (self.a / d, -self.b / d);
        // p = R^-1 (p' - t)
        Some(Similarity2 {
            a,
            b,
            tx: -(a * self.tx - b * self.ty),
            ty: -(b * self.tx + a * self.ty),
        })
    }

    /// `self` after `first`: `p -> self(first(p))`.
    pub fn compose(&self, first: &Similarity2) -> Similarity2 {
        Similarity2 {
            a: self.a * first.a - self.b * first.b,
            b: self.b * first.a + self.a * first.b,
            tx: self.a * first.tx - self.b * first.ty + self.tx,
            ty: self.b * first.tx + self.a * first.ty + self.ty,
        }
    }

    /// The least-squares similarity mapping `src[i]` to `dst[i]` (Umeyama 1991 without
    /// reflection; for two or more distinct points). `None` if the source points coincide.
    pub fn estimate(src: &[Point2], dst: &[Point2]) -> Option<Similarity2> {
        if src.len() != dst.len() || src.len() < 2 {
            return None;
        }
        let n = src.len() as f64;
        let mean = |ps: &[Point2]| {
            let (sx, sy) = ps
                .iter()
                .fold((0f64, 0f64), |(x, y), p| (x + p.x as f64, y + p.y as f64));
            (sx / n, sy / n)
        };
        let (msx, msy) = mean(src);
        let (mdx, mdy) = mean(dst);
        // In complex numbers: dst - md = z * (src - ms), z = a + ib; least squares
        // z = sum(conj(s) d) / sum(|s|^2).
        let (mut num_re, mut num_im, mut den) = (0f64, 0f64, 0f64);
        for (s, d) in src.iter().zip(dst) {
            let (sx, sy) = (s.x as f64 - msx, s.y as f64 - msy);
            let (dx, dy) = (d.x as f64 - mdx, d.y as f64 - mdy);
            num_re += sx * dx + sy * dy;
            num_im += sx * dy - sy * dx;
            den += sx * sx + sy * sy;
        }
        if den <= 1e-12 || !den.is_finite() {
            return None;
        }
        let (a, b) = (num_re / den, num_im / den);
        Some(Similarity2 {
            a: a as f32,
            b: b as f32,
            tx: (mdx - (a * msx - b * msy)) as f32,
            ty: (mdy - (b * msx + a * msy)) as f32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(p: Point2, q: Point2, tol: f32) -> bool {
        p.dist(q) <= tol
    }

    #[test]
    fn inverse_round_trips() {
        let t = Similarity2::new(1.7, 0.6, -12.0, 33.5);
        let inv = t.inverse().unwrap();
        for p in [
            Point2::new(0.0, 0.0),
            Point2::new(100.0, -3.0),
            Point2::new(-7.5, 250.0),
        ] {
            assert!(close(inv.apply(t.apply(p)), p, 1e-3));
            assert!(close(t.apply(inv.apply(p)), p, 1e-3));
        }
        let id = t.compose(&inv);
        assert!((id.a - 1.0).abs() < 1e-5 && id.b.abs() < 1e-5);
        assert!(id.tx.abs() < 1e-3 && id.ty.abs() < 1e-3);
        assert!(Similarity2::new(0.0, 0.3, 1.0, 1.0).inverse().is_none());
    }

    #[test]
    fn compose_applies_in_order() {
        let f = Similarity2::new(2.0, 0.0, 1.0, 0.0);
        let g = Similarity2::new(1.0, std::f32::consts::FRAC_PI_2, 0.0, 5.0);
        let p = Point2::new(3.0, 4.0);
        assert!(close(g.compose(&f).apply(p), g.apply(f.apply(p)), 1e-4));
        // f: (3,4) -> (7,8); g rotates by 90 degrees: (x,y) -> (-y, x) + (0,5) = (-8, 12).
        assert!(close(g.apply(f.apply(p)), Point2::new(-8.0, 12.0), 1e-4));
    }

    #[test]
    fn estimate_recovers_a_known_transform() {
        let t = Similarity2::new(0.42, -0.35, 17.0, -4.0);
        let src = [
            Point2::new(210.0, 140.0),
            Point2::new(270.0, 138.0),
            Point2::new(240.0, 175.0),
            Point2::new(215.0, 205.0),
            Point2::new(265.0, 203.0),
        ];
        let dst: Vec<Point2> = src.iter().map(|p| t.apply(*p)).collect();
        let e = Similarity2::estimate(&src, &dst).unwrap();
        assert!(
            (e.a - t.a).abs() < 1e-5 && (e.b - t.b).abs() < 1e-5,
            "{e:?} vs {t:?}"
        );
        assert!(
            (e.tx - t.tx).abs() < 1e-2 && (e.ty - t.ty).abs() < 1e-2,
            "{e:?} vs {t:?}"
        );
        assert!(Similarity2::estimate(&[src[0]; 5], &dst).is_none());
        assert!(Similarity2::estimate(&src[..1], &dst[..1]).is_none());
    }

    #[test]
    fn iou_of_known_boxes() {
        let a = BBox::new(0.0, 0.0, 10.0, 10.0);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.iou(&BBox::new(20.0, 20.0, 30.0, 30.0)), 0.0);
        // Half overlap: inter 50, union 150.
        assert!((a.iou(&BBox::new(5.0, 0.0, 15.0, 10.0)) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(BBox::default().iou(&BBox::default()), 0.0);
    }

    #[test]
    fn boxes_are_clipped_to_the_image() {
        let b = BBox::new(-10.0, 5.0, 50.0, 130.0).clipped(40, 120);
        assert_eq!(b, BBox::new(0.0, 5.0, 40.0, 120.0));
        let outside = BBox::new(50.0, 10.0, 60.0, 20.0).clipped(40, 120);
        assert_eq!(outside.width(), 0.0);
        let inside = BBox::new(1.0, 2.0, 3.0, 4.0);
        assert_eq!(inside.clipped(40, 120), inside);
    }
}
