package mailarchive.engine;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.core.WhitespaceTokenizer;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

import java.util.Map;

/**
 * The {@code whitespace} tokenizer with its {@code max_token_length} setting, as every
 * Elasticsearch distribution has it from the {@code analysis-common} module. That module is not
 * published on Maven Central, and the message mapping (mappings/messages-v1.json) needs only this
 * one tokenizer, so the engine registers it itself: the same Lucene class with the same default
 * (255) as the module's factory, so analysis here is what a production cluster does.
 */
public final class WhitespaceTokenizerPlugin extends Plugin implements AnalysisPlugin {
    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of("whitespace", (indexSettings, environment, name, settings) -> {
            int maxTokenLength = settings.getAsInt("max_token_length", StandardAnalyzer.DEFAULT_MAX_TOKEN_LENGTH);
            return TokenizerFactory.newFactory(name,
                () -> new WhitespaceTokenizer(TokenStream.DEFAULT_TOKEN_ATTRIBUTE_FACTORY, maxTokenLength));
        });
    }
}
