//! A measurement repeated a few times, summarised as its median and its range: the median
//! is what a table publishes, the range tells how far one run on a shared machine strays.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The middle value (the upper of the two middle ones for an even count).
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().collect();
        v.sort_by(f64::total_cmp);
        Some(Spread {
            median: *v.get(v.len() / 2)?,
            min: *v.first()?,
            max: *v.last()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_middle_value_or_the_upper_middle_one() {
        let odd = Spread::of([3.0, 1.0, 2.0]).unwrap();
        assert_eq!((odd.median, odd.min, odd.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of([4.0, 1.0, 3.0, 2.0]).unwrap().median, 3.0);
        assert_eq!(Spread::of([]), None);
    }
}
