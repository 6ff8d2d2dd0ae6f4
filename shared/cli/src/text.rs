//! Small pieces of output for people.

/// `n` and the noun, plural unless there is exactly one: "1 post", "3 posts".
pub fn counted(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn one_is_singular_and_everything_else_plural() {
        assert_eq!(counted(1u32, "day"), "1 day");
        assert_eq!(counted(0u32, "post"), "0 posts");
        assert_eq!(counted(28u64, "day"), "28 days");
    }
}
