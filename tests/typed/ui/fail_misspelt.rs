// An input name the lock does not have is not a field.
mod workflows {
    include!("../workflows.rs");
}

fn main() {
    let _ = workflows::TextToImage {
        text: "a cat".into(),
        sed: None,
    };
}
