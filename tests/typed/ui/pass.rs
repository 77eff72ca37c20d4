// Every typed workflow of the lock, filled as a user would, goes where `Inputs` go.
mod workflows {
    include!("../workflows.rs");
}

use flowscale::{Inputs, Job, Reader};
use workflows::{ImageToImage, TextToImage, Workflow3DDepthMap};

fn main() {
    let txt2img = TextToImage {
        text: "a cat".into(),
        seed: Some(7.into()),
    };
    let img2img = ImageToImage {
        image: "cat.png".into(),
        strength: Some(0.5.into()),
        text: None,
    };
    let from_memory = ImageToImage {
        image: Reader::new(&b"\x89PNG"[..], "cat.png").into(),
        strength: None,
        text: Some("repaint".into()),
    };
    let odd = Workflow3DDepthMap {
        type_: Some("depth".into()),
        ..Default::default()
    };
    let inputs: Inputs = txt2img.into();
    assert_eq!(inputs.len(), 2);
    let _job = Job::new("cat", img2img);
    let _ = (Inputs::from(from_memory), Inputs::from(odd));
    let _ = (TextToImage::ID, ImageToImage::INPUTS);
    // A workflow named like a prelude type: its struct, and std's `String` and `Option`.
    let shadowing = workflows::String {
        option: Some(std::string::String::from("x")),
        seed: 1.into(),
    };
    let _ = Inputs::from(shadowing);
}
