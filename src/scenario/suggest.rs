//! "Did you mean ...?" suggestions for misspelt keys, names and values.

/// The candidate closest to `word`, if one is close enough to be a likely misspelling: at most a
/// third of its characters edited (at least one edit allowed), or a Jaro-Winkler similarity of
/// 0.9 or more (shared long prefix). Ties go to the first candidate.
pub(crate) fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut best: Option<(f64, &'a str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let edit = strsim::normalized_damerau_levenshtein(word, candidate);
        let jaro = strsim::jaro_winkler(word, candidate);
        let distance = strsim::damerau_levenshtein(word, candidate);
        let allowed = (word.chars().count().max(candidate.chars().count()) / 3).max(1);
        let close = (distance <= allowed && edit >= 0.5) || jaro >= 0.9;
        if !close {
            continue;
        }
        let score = edit + jaro;
        if best.is_none_or(|(best_score, _)| score > best_score) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// `; did you mean "x"?` when a candidate is close, else an empty string.
pub(crate) fn did_you_mean<'a, I>(word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    match closest(word, candidates) {
        Some(candidate) => format!("; did you mean \"{candidate}\"?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_close_misspellings_only() {
        let keys = [
            "name",
            "replicas",
            "zones",
            "workers",
            "queue",
            "service_time",
        ];
        assert_eq!(closest("wokers", keys), Some("workers"));
        assert_eq!(closest("replica", keys), Some("replicas"));
        assert_eq!(closest("servicetime", keys), Some("service_time"));
        assert_eq!(closest("seed", keys), None);
        assert_eq!(closest("x", keys), None);
        assert_eq!(closest("expo", ["const", "exp", "uniform"]), Some("exp"));
    }
}
