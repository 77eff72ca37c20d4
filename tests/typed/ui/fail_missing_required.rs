// An input the lock says is required cannot be left out.
mod workflows {
    include!("../workflows.rs");
}

fn main() {
    let _ = workflows::TextToImage { seed: None };
}
