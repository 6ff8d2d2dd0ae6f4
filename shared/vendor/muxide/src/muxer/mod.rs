pub mod mp4;
