/// The one place the product version is written; `--version` of both programs prints it.
public enum P2MPVersion {
    public static let string = "0.1.0"
}
