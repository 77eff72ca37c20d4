// Text where the lock says number, a number where it says image: type errors.
mod workflows {
    include!("../workflows.rs");
}

fn main() {
    let _ = workflows::TextToImage {
        text: "a cat".into(),
        seed: Some("seven".into()),
    };
    let _ = workflows::ImageToImage {
        image: 3.into(),
        strength: None,
        text: None,
    };
}
